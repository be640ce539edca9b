"""Email delivery: SMTP (with STARTTLS or implicit TLS and login), or a local maildir folder (the default)."""

from __future__ import annotations

import mailbox
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


class MaildirSender:
    """Writes each message into a maildir (new/), readable by any mail client; the embedded default."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, message: EmailMessage) -> None:
        box = mailbox.Maildir(self.path, create=True)
        try:
            box.add(message)
        finally:
            box.close()

    def messages(self) -> list[EmailMessage]:
        from email import message_from_bytes, policy

        box = mailbox.Maildir(self.path, create=True)
        return [message_from_bytes(box.get_bytes(key), policy=policy.default)
                for key in box.iterkeys()]


class SmtpSender:
    """smtp://[user:pass@]host[:port][?starttls=1] or smtps://... (implicit TLS)."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("ORDERLOOM_SMTP_URL must look like smtp://host:port or smtps://host:port")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP = (smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
                                if self.tls else smtplib.SMTP(self.host, self.port, timeout=self.timeout))
        with client:
            if self.starttls:
                client.starttls(context=context)
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(message)

    def __repr__(self) -> str:  # never the password
        return f"SmtpSender({'smtps' if self.tls else 'smtp'}://{self.host}:{self.port})"
