"""Settings, read from the environment (prefix ORDERLOOM_) at the edges only."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERLOOM_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///orderloom.db",
        description="sqlite:///path.db (embedded default, created and migrated on first use) "
                    "or postgresql://user@host:port/db",
    )
    auto_migrate: bool = Field(default=True, description="migrate the database on first use")
    hold_ttl_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600,
                                  description="default lifetime of a checkout hold")
    nats_url: str | None = Field(default=None,
                                 description="publish domain events to NATS JetStream, e.g. nats://127.0.0.1:4222")
    llm: str = Field(default="local", pattern="^(local|openai|fake)$",
                     description="language model for the agents: local (bundled Qwen2.5-Coder-1.5B through "
                                 "llama.cpp), openai (any OpenAI-compatible endpoint), fake (scripted, tests)")
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for llm=openai "
                                                                "(vLLM, Ollama, LM Studio); default api.openai.com")
    llm_model: str = Field(default="gpt-4o-mini", description="model name for llm=openai")
    llm_port: int = Field(default=8765, ge=1024, le=65535, description="port of the bundled local model server")
    model_cache_dir: Path = Field(default=Path.home() / ".cache" / "orderloom" / "models",
                                  description="where the bundled model's weights are assembled once")
    abuse_model_file: Path | None = Field(
        default=None, description="a return-abuse model fitted on this store's own decisions "
                                  "(`orderloom returns fit-abuse-model --write PATH`); default: the one shipped")
    realworld_dir: Path = Field(default=Path("../shared/realworld"),
                                description="folder of third-party EDI, address and retail samples (tests)")

    webhook_secret: SecretStr | None = Field(
        default=None, description="master secret that carriers' webhook signing secrets derive from; default: "
                                  "generated once into secret_file")
    secret_file: Path = Field(default=Path("orderloom-secret.key"),
                              description="where the generated webhook master secret is kept (mode 0600)")
    notify_from: str = Field(default="Orderloom <orders@orderloom.local>", description="sender of notifications")
    smtp_url: SecretStr | None = Field(default=None, description="deliver notifications by SMTP, e.g. "
                                 "smtp://user:pass@mail.example.com:587?starttls=1; default: a local maildir")
    maildir: Path = Field(default=Path("orderloom-mail"), description="maildir folder notifications go to "
                          "when no SMTP server is configured")
    notify_rate_per_hour: int = Field(default=5, ge=1, le=1000,
                                      description="at most this many messages per recipient per hour; more wait")

    log_level: str = Field(default="info", pattern="^(?i:debug|info|warning|error)$",
                           description="log level of `orderloom serve`: debug, info, warning, error")
    log_format: str = Field(default="json", pattern="^(json|text)$", description="json (one object per line) "
                            "or text")
    log_file: str = Field(default="orderloom.log", max_length=1000,
                          description="where `orderloom serve` writes its logs; '-' for standard error")

    def master_secret(self) -> str:
        """The webhook master secret: configured, or generated once and kept in secret_file."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        path = self.secret_file
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        import os
        import secrets

        value = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("ORDERLOOM_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        return value


def get_settings() -> Settings:
    return Settings()
