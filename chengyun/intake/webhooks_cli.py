"""`chengyun webhooks …`: register an upstream system's webhook, list webhooks, read and retry deliveries."""

from __future__ import annotations

from typing import Annotated

import typer

from chengyun.cli_support import friendly, migrated_container, say
from chengyun.intake.webhooks import DeliveryInfo, WebhookService

app = typer.Typer(help="Outbound webhooks (回传): status changes sent back to upstream systems.",
                  no_args_is_help=True)
def _service() -> WebhookService:
    return migrated_container().webhooks


@app.command("add")
@friendly
def add(
    system: Annotated[str, typer.Argument(help="The upstream system's name, as its cases carry it (e.g. 12345)")],
    url: Annotated[str, typer.Argument(help="Where to POST the status changes (http or https)")],
    secret: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                        help="Shared secret for the X-Chengyun-Signature HMAC (asked when omitted)")],
) -> None:
    """Register a system's webhook, or replace its URL and secret; its cases' steps are sent from now on."""
    info = _service().register(system, url, secret, actor="cli")
    typer.echo(say("cli.webhook_registered", system=info.system, url=info.url))


@app.command("list")
@friendly
def list_webhooks() -> None:
    """Print every webhook with its URL, whether it is active, and its delivery counts."""
    for info in _service().list():
        typer.echo(f"{info.system:20} {'active' if info.active else 'inactive':8} {info.url}  "
                   f"[pending {info.pending}, delivered {info.delivered}, failed {info.failed}]")


@app.command("deliveries")
@friendly
def deliveries(
    system: str,
    state: Annotated[str | None, typer.Option(help="pending, delivered or failed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Print a system's delivery log, newest first."""
    for info in _service().deliveries(system, state=state, limit=limit):
        typer.echo(describe(info))


@app.command("retry")
@friendly
def retry(delivery_id: int) -> None:
    """Make a failed delivery due again, with a fresh set of attempts."""
    info = _service().retry(delivery_id, actor="cli")
    typer.echo(describe(info))


def describe(info: DeliveryInfo) -> str:
    """One line: id, case and version, action, state, attempts, last answer or error."""
    answer = info.last_error or (f"HTTP {info.last_status}" if info.last_status else "")
    return (f"#{info.id:<6} {info.case_number} v{info.case_version} {info.action:18} {info.state:9} "
            f"attempts {info.attempts}  {answer}").rstrip()
