"""Wiring: build the database engine, migrate it, and assemble the message bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from engine.adapters.database import create_db_engine
from engine.adapters.email import MaildirSender, SmtpSender
from engine.adapters.migrate import ensure_schema
from engine.adapters.outbox import OutboxRelay
from engine.adapters.unit_of_work import SqlUnitOfWork
from engine.returns.abuse import load_model
from engine.services.access import AccessService
from engine.services.anomaly import HistoryAnomalyScorer
from engine.services.edi import EdiIntake
from engine.services.exceptions import ExceptionDesk
from engine.services.intake import IntakeDesk
from engine.services.messagebus import MessageBus
from engine.services.notifications import EmailSender, NotificationOutbox
from engine.services.promise import DeliveryPromiser
from engine.services.returns import ReturnsDesk
from engine.services.routing import OrderRouter
from engine.services.tracking import TrackingDesk
from engine.services.unit_of_work import Clock, utc_now
from engine.settings import Settings, get_settings


@dataclass
class App:
    """The running engine: database, bus and outbox relay."""

    engine: Engine
    bus: MessageBus
    relay: OutboxRelay
    clock: Clock
    router: OrderRouter
    promiser: DeliveryPromiser
    intake: IntakeDesk
    edi: EdiIntake
    exceptions: ExceptionDesk
    access: AccessService
    tracking: TrackingDesk
    notifications: NotificationOutbox
    returns: ReturnsDesk
    settings: Settings
    closers: list[Callable[[], None]] = field(default_factory=list)

    def uow(self, *, readonly: bool = False) -> SqlUnitOfWork:
        """A unit of work for reads (`readonly=True`: no write lock, no row locks) or for tests."""
        return SqlUnitOfWork(self.engine, self.clock, readonly=readonly)

    def close(self) -> None:
        for close in self.closers:
            close()
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, database_url: str | None = None, clock: Clock = utc_now,
              migrate: bool | None = None, deliver_events: bool = True, pool_size: int = 5,
              email_sender: EmailSender | None = None) -> App:
    settings = settings or get_settings()
    engine = create_db_engine(database_url or settings.database_url, pool_size=pool_size)
    if settings.auto_migrate if migrate is None else migrate:
        ensure_schema(engine)
    relay = OutboxRelay(engine)
    closers: list[Callable[[], None]] = []
    if settings.nats_url:
        from engine.adapters.nats_bus import JetStreamPublisher

        publisher = JetStreamPublisher(settings.nats_url)
        relay.subscribe("*", publisher)
        closers.append(publisher.close)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    bus = MessageBus(uow_factory, after_commit=relay if deliver_events else None)

    def any_uow(*, readonly: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock, readonly=readonly)

    router = OrderRouter(any_uow, bus.handle)
    promiser = DeliveryPromiser(any_uow)
    promiser.watch(bus)  # this process's own network changes drop the promise's cache at once
    # Every order that arrives is screened for exceptions before it is routed (ExceptionDesk.process).
    # The anomaly model learns from this database's order history (once there is enough of it).
    exceptions = ExceptionDesk(any_uow, bus.handle, router, anomaly=HistoryAnomalyScorer(any_uow))
    intake = IntakeDesk(bus.handle, exceptions.process)
    edi = EdiIntake(any_uow, intake)
    tracking = TrackingDesk(any_uow, bus.handle, exceptions, settings.master_secret)
    abuse_model = None
    if settings.abuse_model_file is not None:
        try:
            abuse_model = load_model(str(settings.abuse_model_file))
        except ValueError as exc:
            raise ValueError(f"ORDERLOOM_ABUSE_MODEL_FILE: {exc}") from exc
    returns = ReturnsDesk(any_uow, bus.handle, exceptions, place_replacement=exceptions.process, model=abuse_model)
    exceptions.returns = returns
    smtp = settings.smtp_url.get_secret_value() if settings.smtp_url else None
    sender = email_sender or (SmtpSender(smtp) if smtp else MaildirSender(settings.maildir))
    notifications = NotificationOutbox(any_uow, sender, from_address=settings.notify_from,
                                       rate_per_hour=settings.notify_rate_per_hour)
    return App(engine=engine, bus=bus, relay=relay, clock=clock, router=router, promiser=promiser, intake=intake,
               edi=edi, exceptions=exceptions, access=AccessService(any_uow), tracking=tracking,
               notifications=notifications, returns=returns, settings=settings, closers=closers)
