"""`chengyun linkage …`: check a street's plan or channel file, and run escalation and delivery once by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chengyun.cli_support import friendly, migrated_container, say
from chengyun.linkage.channels import load_channels
from chengyun.linkage.model import load_plans
from chengyun.linkage.service import LinkageService
from chengyun.linkage.wiring import build_linkage

app = typer.Typer(help="Linked response (联动预案): plans, channels, escalation and delivery.", no_args_is_help=True)


@app.command("check")
@friendly
def check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A plan file (YAML or JSON)")],
    channels: Annotated[bool, typer.Option("--channels", help="The file is a channel file, not a plan file")] = False,
) -> None:
    """Validate a plan file (or, with --channels, a channel file); the first problem is named with where it is."""
    raw = file.read_bytes()
    if channels:
        book = load_channels(raw)
        typer.echo(say("cli.linkage_channels_ok", file=file.name, count=len(book.areas)))
    else:
        plans = load_plans(raw)
        typer.echo(say("cli.linkage_ok", file=file.name, count=len(plans.plans) + 1))


@app.command("run-once")
@friendly
def run_once() -> None:
    """Escalate the runs nobody acknowledged in time, then send what is due; print what happened."""
    container = migrated_container()
    found = getattr(container, "linkage", None)
    linkage = found if isinstance(found, LinkageService) else build_linkage(container)
    escalated = linkage.escalate_due()
    report = linkage.deliver_due()
    typer.echo(f"escalated {escalated}; attempted {report.attempted}, sent {report.sent}, logged {report.logged}, "
               f"retrying {report.retrying}, failed {report.failed}")
