"""`orderloom serve`: the whole system in one process, alive from the first minute.

1. Migrate the database (the embedded SQLite file by default) and seed the demo network when it is empty.
2. Make sure someone can sign in: a `demo-admin` key (printed once, the first time) and, on the demo
   network, a `demo-customer`; print one-time sign-in links for the dashboard and the customer page.
3. Start the language model in the background (the bundled local model, or the configured endpoint).
4. Serve the API, the dashboard and the docs (uvicorn, 127.0.0.1:8000 by default).
5. Feed it: the channel simulator (evals/simulator.py) places orders from every channel and plays the
   warehouses and carriers through the API, unless `--no-simulator`.
Ctrl-C stops the simulator, then the server, then the engine, and says so.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.text import Text

from engine.bootstrap import App
from engine.domain.access import Role

log = logging.getLogger("orderloom.serve")
ADMIN = "demo-admin"
CUSTOMER = "demo-customer"
SIMULATOR = "channel-simulator"
DEMO_CUSTOMER_ID = "CUST-0042"


@dataclass
class Startup:
    admin_key: str | None = None
    admin_principal: str | None = None
    customer_principal: str | None = None
    seeded: bool = False
    notes: list[str] = field(default_factory=list)


def prepare(app: App, console: Console, *, seed: bool = True) -> Startup:
    """Seed when empty and make sure the demo principals exist (idempotent: a restart changes nothing)."""
    from engine.services.demo import seed_demo

    out = Startup()
    with app.uow(readonly=True) as uow:
        empty = not uow.master.list_nodes()
    if empty and seed:
        with console.status("Seeding the demo network (nodes, catalog, channels, carriers, stock)…"):
            seed_demo(app.bus)
        out.seeded = True
        console.print(Text.assemble(("✓ ", "green"), "demo network seeded (nodes, catalog, channels, carriers, "
                                    "accounts, customers, stock)"))
    admin = app.access.find_principal(ADMIN, Role.OPS_ADMIN)
    if admin is None and not app.access.principals():
        issued = app.access.create_principal(name=ADMIN, role=Role.OPS_ADMIN.value, created_by="orderloom serve")
        out.admin_key = issued.key
        admin = issued.principal
    out.admin_principal = admin.principal_id if admin is not None else None
    customer = app.access.find_principal(CUSTOMER, Role.CUSTOMER)
    if customer is None:
        with app.uow(readonly=True) as uow:
            known = uow.master.get_customer(DEMO_CUSTOMER_ID) is not None
        if known:
            customer = app.access.create_principal(name=CUSTOMER, role=Role.CUSTOMER.value,
                                                   customer_id=DEMO_CUSTOMER_ID,
                                                   created_by="orderloom serve").principal
    out.customer_principal = customer.principal_id if customer is not None else None
    return out


def warm_model(app: App, console: Console) -> threading.Thread | None:
    """Start the configured model in the background so the first question does not wait for it."""
    kind = app.settings.llm
    if kind == "fake":
        console.print(Text.assemble(("• ", "yellow"), "model: none (ORDERLOOM_LLM=fake): the intake agent uses its "
                                    "rules, the assistants answer from the engine's records"))
        return None
    if kind == "openai":
        console.print(Text.assemble(("• ", "cyan"), "model: the OpenAI-compatible endpoint ",
                                    app.settings.llm_base_url or "api.openai.com", " (", app.settings.llm_model, ")"))
        return None

    def start() -> None:
        from agents.llm.local import LocalModelServer

        started = time.monotonic()
        try:
            server = LocalModelServer.ensure(app.settings.model_cache_dir, app.settings.llm_port)
        except Exception as err:  # the engine runs without it; the agents report the model as unavailable
            console.print(Text.assemble(("✗ ", "red"), "local model unavailable: ", str(err)))
            log.warning("local model unavailable: %s", err)
            return
        console.print(Text.assemble(("✓ ", "green"), f"local model ready at {server.base_url} "
                                    f"in {time.monotonic() - started:.0f} s"))

    console.print(Text.assemble(("• ", "cyan"), "model: starting the bundled local model in the background…"))
    worker = threading.Thread(target=start, name="orderloom-model", daemon=True)
    worker.start()
    return worker


class SimulatorRunner:
    """The channel simulator in a thread, with its own API key (revoked when it stops)."""

    def __init__(self, app: App, base_url: str, *, orders_per_minute: float) -> None:
        self.app, self.base_url, self.rate = app, base_url, orders_per_minute
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.key_id: str | None = None
        self.simulator: Any = None

    def start(self) -> None:
        from evals.simulator import ChannelSimulator

        found = self.app.access.find_principal(SIMULATOR, Role.OPS)
        issued = self.app.access.add_key(found.principal_id) if found is not None else \
            self.app.access.create_principal(name=SIMULATOR, role=Role.OPS.value, created_by="orderloom serve")
        self.key_id = issued.key_id
        client = httpx.Client(base_url=self.base_url, headers={"X-API-Key": issued.key}, timeout=120)
        self.simulator = ChannelSimulator(client, self.app.tracking.secret_for, orders_per_minute=self.rate,
                                          regular_customer=DEMO_CUSTOMER_ID)
        self.thread = threading.Thread(target=self.simulator.run, args=(self.stop_event,), name="orderloom-simulator",
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=15)
        if self.simulator is not None:
            # An email the API is still reading gets a moment; one cut short stays stored and is read again
            # after the next start (`resume_unread_emails`), so Ctrl-C never waits for a slow model.
            if self.simulator.email_busy.acquire(timeout=2):
                self.simulator.email_busy.release()
            self.simulator.client.close()
        if self.key_id is not None:
            with contextlib.suppress(Exception):
                self.app.access.revoke_key(self.key_id)


def wait_until_up(base_url: str, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def status_line(app: App, runner: SimulatorRunner | None) -> Text:
    from engine.adapters.dashboard_queries import DashboardQueries

    q = DashboardQueries(app.engine)
    counts = q.status_counts()
    open_cases = sum(q.open_case_counts().values())
    parts = [f"{sum(counts.values()):,} orders"]
    parts += [f"{counts[s]:,} {s}" for s in ("allocated", "released", "shipped", "delivered", "exception")
              if counts.get(s)]
    parts.append(f"{open_cases} open exceptions")
    if runner is not None and runner.simulator is not None:
        stats = runner.simulator.stats
        parts.append(f"simulator placed {sum(stats.placed.values()):,}, shipped {stats.shipped:,}, "
                     f"delivered {stats.delivered:,}")
    return Text.assemble((time.strftime("%H:%M:%S "), "dim"), " · ".join(parts))


def serve(app: App, console: Console, *, host: str, port: int, simulator: bool, orders_per_minute: float,
          status_every: float = 30.0, seed: bool = True) -> None:
    import uvicorn

    from api.http import create_api
    from api.http.dashboard import issue_login_code

    started = prepare(app, console, seed=seed)
    warm_model(app, console)
    api = create_api(app)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    # In-flight requests get 10 s to finish at shutdown (an email read by a slow model must not hold Ctrl-C).
    config = uvicorn.Config(api, host=host, port=port, log_level="warning", access_log=False, log_config=None,
                            timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="orderloom-http", daemon=True)
    thread.start()
    if not wait_until_up(base):
        server.should_exit = True
        raise RuntimeError(f"the API did not start on {base} (is the port taken? try --port)")
    console.print(Text.assemble(("✓ ", "green"), "API and dashboard on ", (base, "bold"),
                                " (OpenAPI docs at /docs, metrics at /metrics, readiness at /ready)"))
    if started.admin_key:
        console.print(Text.assemble(("  API key for demo-admin (shown once, keep it): ", "bold"), started.admin_key))
    if started.admin_principal:
        code = issue_login_code(api, started.admin_principal)
        console.print(Text.assemble("  Dashboard (one-time sign-in link, 15 min): ", (f"{base}/ui/login?code={code}",
                                                                                     "bold cyan")))
    if started.customer_principal:
        code = issue_login_code(api, started.customer_principal)
        console.print(Text.assemble("  Customer page for the demo customer: ", (f"{base}/ui/login?code={code}",
                                                                                 "cyan")))
    runner = None
    if simulator:
        runner = SimulatorRunner(app, base, orders_per_minute=orders_per_minute)
        runner.start()
        console.print(Text.assemble(("✓ ", "green"), f"channel simulator: ~{orders_per_minute:g} orders a minute "
                                    "from web, mobile, marketplace, POS, EDI and email, with warehouse and carrier "
                                    "events (--no-simulator for real use)"))
    stop_resume = threading.Event()
    threading.Thread(target=_resume_emails, args=(api, stop_resume), name="orderloom-intake-resume",
                     daemon=True).start()
    console.print("Ctrl-C stops Orderloom.")
    last = time.monotonic()
    previous = _stop_on_sigterm()
    try:
        while thread.is_alive():
            thread.join(timeout=0.5)
            if status_every and time.monotonic() - last >= status_every:
                last = time.monotonic()
                with contextlib.suppress(Exception):
                    console.print(status_line(app, runner))
    except KeyboardInterrupt:
        pass
    finally:
        console.print("Stopping…")
        api.state.stopping = True  # open event streams end, so the server need not wait for browsers to leave
        stop_resume.set()
        if runner is not None:
            runner.stop()
        server.should_exit = True
        thread.join(timeout=20)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        console.print(Text.assemble(("✓ ", "green"), "stopped cleanly; everything is in the database"))


def _resume_emails(api: Any, stop: threading.Event, every: float = 60.0) -> None:
    """Emails stored but never read (a stop while the model read them) are read again, once a minute."""
    from api.http.intake import resume_unread_emails

    while not stop.wait(every):
        try:
            resume_unread_emails(api)
        except Exception:  # logged; the next round tries again
            log.exception("resuming unread emails failed")


def _stop_on_sigterm() -> Any:
    """SIGTERM (a service manager, a container runtime) stops as cleanly as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)
