"""The `chengyun` command: database, areas, accounts, tokens, the demo and the web server."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from chengyun.alarms.cli import app as alarms_app
from chengyun.auth.model import Role
from chengyun.bootstrap import Container, bootstrap
from chengyun.categories.cli import app as categories_app
from chengyun.config import Settings, load_settings
from chengyun.devices.cli import app as devices_app
from chengyun.errors import DomainError, Invalid
from chengyun.i18n import pick_locale, translate
from chengyun.ingest.cli import app as ingest_app
from chengyun.ingest.cli import simulate_app
from chengyun.intake.webhooks_cli import app as webhooks_app
from chengyun.linkage.cli import app as linkage_app
from chengyun.places.cli import app as places_app
from chengyun.triage.cli import app as triage_app

app = typer.Typer(help="Chengyun 城运: city operations hub for grassroots governance.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
areas_app = typer.Typer(help="Area tree: import files, locate points.", no_args_is_help=True)
users_app = typer.Typer(help="Sign-in accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer tokens for machines.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(areas_app, name="areas")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(categories_app, name="categories")
app.add_typer(places_app, name="places")
app.add_typer(devices_app, name="devices")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(triage_app, name="triage")
app.add_typer(alarms_app, name="alarms")
app.add_typer(linkage_app, name="linkage")
app.add_typer(ingest_app, name="ingest")
app.add_typer(simulate_app, name="simulate")
duty_app = typer.Typer(help="The duty list (权责清单): which unit leads which category where.", no_args_is_help=True)
app.add_typer(duty_app, name="duty")
jobs_app = typer.Typer(help="Background jobs, run by hand.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

F = TypeVar("F", bound=Callable[..., Any])


def _locale() -> str:
    import os

    return pick_locale(os.environ.get("CHENGYUN_LANG") or os.environ.get("LANG", "zh-CN").split(".")[0])


def friendly_errors(fn: F) -> F:
    """Domain errors become one translated line on stderr and exit status 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            locale = _locale()
            typer.echo(f"{translate('cli.error', locale)} [{exc.code}] {translate(exc.code, locale, **exc.params)}",
                       err=True)
            for problem in exc.params.get("problems", []) or []:
                text = translate(problem.code, locale, where=problem.where, **problem.params)
                typer.echo(f"  - {problem.where}: [{problem.code}] {text}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _container(migrate: bool = True) -> Container:
    container = bootstrap(load_settings())
    if migrate:
        container.migrate()
    return container


# --- db -------------------------------------------------------------------------------------------

@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Apply all pending migrations."""
    container = _container(migrate=False)
    container.migrate()
    typer.echo(f"database at revision {container.schema_revision()}: {_safe_url(container)}")


@db_app.command("current")
@friendly_errors
def db_current() -> None:
    """Print the applied revision."""
    typer.echo(_container(migrate=False).schema_revision() or "empty")


def _safe_url(container: Container) -> str:
    return container.engine.url.render_as_string(hide_password=True)


# --- init, users, tokens --------------------------------------------------------------------------

@app.command()
@friendly_errors
def init(username: Annotated[str, typer.Option(help="Admin username")] = "admin",
         root_code: Annotated[str | None, typer.Option(help="Create this root area if the tree is empty")] = None,
         root_name: Annotated[str | None, typer.Option(help="Name of the root area")] = None) -> None:
    """Create the first admin; the generated password is printed once and never stored in plain."""
    from chengyun.setup import create_first_admin

    container = _container()
    password = create_first_admin(container, username, root_code, root_name)
    typer.echo(translate("cli.admin_created", _locale(), username=username, password=password))


@duty_app.command("import")
@friendly_errors
def duty_import(path: Path) -> None:
    """Replace the duty list with a CSV or .xlsx file, all or nothing."""
    if not path.is_file():
        raise Invalid("cli.file_not_found", path=str(path))
    count = _container().duty.import_bytes(path.read_bytes(), filename=path.name, actor="cli")
    typer.echo(translate("cli.duty_imported", _locale(), count=count))


@jobs_app.command("run-once")
@friendly_errors
def jobs_run_once() -> None:
    """Run the scheduled jobs once: the deadline sweep (colours, urges, escalations), then the KPI rollup."""
    report, rollup = _container().run_jobs()
    typer.echo(translate("cli.sweep_done", _locale(), checked=report.checked, urged=report.urged,
                         escalated=report.escalated, failed=len(report.failed)))
    for line in report.failed:
        typer.echo(f"  - {line}")
    if rollup.full:
        typer.echo(translate("cli.kpis_rebuilt", _locale(), rows=rollup.rows))
    else:
        typer.echo(translate("cli.kpis_refreshed", _locale(), days=rollup.days, rows=rollup.rows))


@users_app.command("create")
@friendly_errors
def users_create(username: str, role: Role, scope: Annotated[str, typer.Option(help="Scope area code")],
                 name: Annotated[str, typer.Option(help="Display name")] = "") -> None:
    """Create an account; prints the generated password once."""
    _, password = _container().auth.create_user(username=username, display_name=name or username, role=role,
                                                scope_code=scope, actor="cli")
    typer.echo(f"{username}\t{password}")


@users_app.command("set-password")
@friendly_errors
def users_set_password(username: str) -> None:
    """Generate a new password, end the user's sessions, print the password once."""
    typer.echo(_container().auth.set_password(username, actor="cli"))


@tokens_app.command("create")
@friendly_errors
def tokens_create(user: Annotated[str, typer.Option(help="Account the token acts as")],
                  name: Annotated[str, typer.Option(help="What the token is for")],
                  days: Annotated[int | None, typer.Option(help="Valid for N days")] = None) -> None:
    """Issue a bearer token; it is shown once and stored only as a hash."""
    typer.echo(_container().auth.issue_token(user, name, actor="cli", valid_days=days))


@tokens_app.command("revoke")
@friendly_errors
def tokens_revoke(prefix: str) -> None:
    """Revoke a token by its prefix (the 8 characters after cy_)."""
    _container().auth.revoke_token(prefix, actor="cli")
    typer.echo("revoked")


# --- areas ----------------------------------------------------------------------------------------

@areas_app.command("import")
@friendly_errors
def areas_import(
    files: Annotated[list[Path], typer.Argument(help="GeoJSON or CSV files, imported together")],
    fmt: Annotated[str, typer.Option("--format", help="geojson or csv (default: by extension)")] = "",
    crs: Annotated[str, typer.Option(help="Source coordinates: wgs84, gcj02 or bd09")] = "wgs84",
    level: Annotated[str | None, typer.Option(help="Force the level of every area")] = None,
    code_field: Annotated[str, typer.Option(help="Property/column with the code")] = "code",
    name_field: Annotated[str, typer.Option(help="Property/column with the name")] = "name",
    parent_field: Annotated[str, typer.Option(help="Property/column with the parent code")] = "parent",
) -> None:
    """Import areas all-or-nothing; bad files are refused with every problem listed."""
    from chengyun.setup import import_area_files

    result = import_area_files(_container(), files, fmt=fmt, crs=crs, level=level, code_field=code_field,
                               name_field=name_field, parent_field=parent_field)
    typer.echo(translate("cli.areas_imported", _locale(), created=result.created, updated=result.updated))


@areas_app.command("locate")
@friendly_errors
def areas_locate(lon: float, lat: float, crs: str = "wgs84") -> None:
    """Print the chain of areas containing a point."""
    from chengyun.shared.geo import parse_coord_system

    chain = _container().areas.locate(lon, lat, parse_coord_system(crs))
    for ref in chain:
        typer.echo(f"{ref.level.value:10} {ref.code:18} {ref.name}")


# --- demo and server ------------------------------------------------------------------------------

LIVE_TICK_S = 5.0
IOT_TICK_S = 2.0  # linkage escalations and deliveries, alarm cases, the in-process engine's deadlines
DEVICES_TICK_S = 1.0
SHUTDOWN_GRACE_S = 5  # then requests still running (the screen's event streams) are cancelled


@app.command()
@friendly_errors
def demo(seed: Annotated[int, typer.Option(help="Generator seed")] = 2026,
         serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the web server")] = False,
         history_days: Annotated[int, typer.Option(help="Days of simulated case history (first run; 0: none)")] = 7,
         live: Annotated[bool, typer.Option("--live/--no-live",
                                            help="While serving, keep simulating new cases and steps")] = True,
         ) -> None:
    """Generate the demo street (once), issue fresh demo passwords, print them, optionally serve."""
    from chengyun.demo.load import ensure_demo
    from chengyun.demo.simulate import simulate

    container = _container()
    accounts = ensure_demo(container, seed=seed, echo=typer.echo)
    if history_days > 0:
        simulate(container, days=history_days, seed=seed, echo=typer.echo)
        container.run_jobs()
    settings = container.settings
    typer.echo("")
    typer.echo(translate("cli.demo_ready", _locale(), url=f"http://{settings.host}:{settings.port}/login"))
    for account in accounts:
        typer.echo(f"  {account.role:12} {account.username:16} {account.password}   {account.scope_name}")
    sys.stdout.flush()
    if serve:
        _serve(container, live_seed=seed if live else None)


@app.command()
@friendly_errors
def serve(host: Annotated[str | None, typer.Option(help="Bind address")] = None,
          port: Annotated[int | None, typer.Option(help="Port")] = None,
          workers: Annotated[int | None, typer.Option(help="Web server processes")] = None) -> None:
    """Run the web server (migrations are applied first)."""
    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    container = bootstrap(load_settings(**overrides))
    container.migrate()
    _serve(container)


def _serve(container: Container, *, live_seed: int | None = None) -> None:
    """Run uvicorn with the scheduled jobs (and, for the demo, the live simulator) in background threads."""
    import uvicorn

    from chengyun.demo.devices_live import LiveDevices
    from chengyun.demo.live import LiveSimulator
    from chengyun.shared.ticker import Ticker
    from chengyun.web.app import create_app

    settings = container.settings
    app = create_app(container)
    tickers = []
    if settings.sweep_interval_s:
        tickers.append(Ticker(container.run_jobs, settings.sweep_interval_s, "jobs"))
    tickers.append(Ticker(container.run_iot_jobs, IOT_TICK_S, "iot"))
    if live_seed is not None:
        tickers.append(Ticker(LiveSimulator(container, seed=live_seed).tick, LIVE_TICK_S, "demo-simulator"))
        if not settings.mqtt_url:  # no broker: the demo's devices talk to the in-process gateway
            app.state.demo_devices = LiveDevices(container, seed=live_seed)  # also the alarm page's drill
            tickers.append(Ticker(app.state.demo_devices.tick, DEVICES_TICK_S, "demo-devices"))
    for ticker in tickers:
        ticker.start()
    try:
        if settings.workers > 1:
            _serve_workers(settings)
        else:
            # open big-screen streams (server-sent events) never finish by themselves: end them after 5 s
            uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                        timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    finally:
        for ticker in tickers:
            ticker.stop()


def _serve_workers(settings: Settings) -> None:
    """Several server processes on one listening socket; each builds its own app from the same environment."""
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    os.environ["CHENGYUN_DATA_DIR"] = str(settings.data_dir.resolve())
    config = uvicorn.Config("chengyun.web.app:app_from_environment", factory=True, workers=settings.workers,
                            host=settings.host, port=settings.port, log_level="info",
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # created with IPPROTO_TCP (uvicorn's own has protocol 0): asyncio sets TCP_NODELAY only on sockets it knows
    # are TCP, and without it every small response waits ~40 ms for a delayed ACK
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((settings.host, settings.port))
    listener.set_inheritable(True)
    Multiprocess(config, sockets=[listener]).run()


if __name__ == "__main__":  # pragma: no cover
    app()
