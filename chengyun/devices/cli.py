"""`chengyun devices …`: the device types, importing devices (tokens shown once), listing devices."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Annotated

import typer

from chengyun.auth.model import Principal, Role
from chengyun.cli_support import cli_locale, friendly, migrated_container, say
from chengyun.devices.service import MAX_IMPORT_BYTES
from chengyun.errors import Invalid

app = typer.Typer(help="Devices (物联设备): device types, imports with credentials, status.", no_args_is_help=True)
CLI_PRINCIPAL = Principal(0, "cli", "command line", Role.ADMIN, "", "/")  # the operator of the machine: everything


@app.command("types")
@friendly
def types() -> None:
    """Print each device type: code, name, heartbeat, properties with units and ranges, events, FIWARE mapping."""
    locale = cli_locale()
    for kind in migrated_container().devices.types().values():
        fiware = ", ".join(kind.controlled_property) or "—"
        typer.echo(f"{kind.code:18} {kind.name(locale)}  heartbeat {kind.heartbeat_s}s  FIWARE {fiware}")
        for spec in kind.properties:
            bounds = f" [{spec.min:g}, {spec.max:g}]" if spec.min is not None and spec.max is not None else ""
            typer.echo(f"    {spec.code:12} {spec.datatype.value:6} {spec.unit or ''}{bounds}")
        for event in kind.events:
            typer.echo(f"    event {event.code}")


@app.command("import")
@friendly
def import_file(
    file: Annotated[Path, typer.Argument(help="Devices: .csv (UTF-8) or .xlsx with a header row")],
    tokens: Annotated[Path | None, typer.Option(help="Write the new devices' tokens to this CSV (mode 600) "
                                                     "instead of printing them")] = None,
) -> None:
    """Import devices all or nothing, by device id; new devices' tokens are shown once and never stored."""
    if not file.is_file():
        raise Invalid("files.not_found", path=str(file))
    if file.stat().st_size > MAX_IMPORT_BYTES:
        raise Invalid("devices.import.too_large", size=file.stat().st_size, limit=MAX_IMPORT_BYTES)
    result = migrated_container().devices.import_file(file.read_bytes(), file.name, actor="cli")
    typer.echo(say("cli.devices_imported", created=result.created, updated=result.updated,
                   unchanged=result.unchanged))
    if not result.tokens:
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["device_id", "token"])
    writer.writerows(sorted(result.tokens.items()))
    if tokens is None:
        typer.echo(out.getvalue(), nl=False)
        return
    fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(out.getvalue())
    typer.echo(say("cli.devices_tokens_written", path=str(tokens), count=len(result.tokens)))


@app.command("list")
@friendly
def list_devices(
    type: Annotated[str | None, typer.Option("--type", help="Only this device type")] = None,
    status: Annotated[str | None, typer.Option(help="online or offline")] = None,
    area: Annotated[str | None, typer.Option(help="Only inside this area (code)")] = None,
    q: Annotated[str | None, typer.Option(help="Device id prefix or text in the name")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Print devices: id, type, status, last seen, area, place and household."""
    page = migrated_container().devices.search(CLI_PRINCIPAL, type_code=type, status=status, area_code=area, q=q,
                                               limit=limit)
    for item in page["items"]:
        typer.echo(f"{item['device_id']:20} {item['type']:16} {item['status']:7} {item['last_seen_at'] or '—':32} "
                   f"{item['area_code']} {item['place_code'] or ''} {item['household'] or ''}".rstrip())
    typer.echo(say("cli.devices_listed", shown=len(page["items"]), total=page["total"]))
