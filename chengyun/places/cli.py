"""`chengyun places …`: import roads and POIs, geocode an address, reverse-geocode a point."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chengyun.cli_support import friendly, migrated_container, say
from chengyun.errors import Invalid
from chengyun.places.model import Candidate
from chengyun.places.service import MAX_IMPORT_BYTES, PlaceService

app = typer.Typer(help="Places (地名地址): import roads and points of interest, geocode addresses.",
                  no_args_is_help=True)
def _service() -> PlaceService:
    return migrated_container().places


@app.command("import")
@friendly
def import_file(
    file: Annotated[Path, typer.Argument(help="Roads, POIs, compound aliases: .csv (UTF-8) or .xlsx with a header")],
    crs: Annotated[str, typer.Option(help="Coordinates in the file: wgs84, gcj02 or bd09")] = "wgs84",
) -> None:
    """Import roads and points of interest all or nothing, by code; a bad file is refused with every problem."""
    from chengyun.shared.geo import parse_coord_system

    if not file.is_file():
        raise Invalid("files.not_found", path=str(file))
    if file.stat().st_size > MAX_IMPORT_BYTES:
        raise Invalid("places.import.too_large", size=file.stat().st_size, limit=MAX_IMPORT_BYTES)
    result = _service().import_file(file.read_bytes(), file.name, "cli", crs=parse_coord_system(crs))
    typer.echo(say("cli.places_imported", created=result.created, updated=result.updated, aliased=result.aliased))


@app.command("geocode")
@friendly
def geocode(text: str) -> None:
    """Place an address: the parts read, then the best place or why none, and the candidates."""
    result = _service().geocode(text)
    parts = {k: v for k, v in _parts(result.parsed).items() if v}
    typer.echo("  ".join(f"{k}={v}" for k, v in parts.items()))
    if result.best is not None:
        typer.echo(f"✓ {_line(result.best)}")
    else:
        typer.echo(f"✗ [{result.reason}] {say(result.reason or 'places.not_found')}")
    for candidate in result.candidates:
        typer.echo(f"  - {_line(candidate)}")


@app.command("reverse")
@friendly
def reverse(lon: float, lat: float, crs: str = "wgs84") -> None:
    """The readable address of a point: its areas and the nearest known place."""
    from chengyun.shared.geo import parse_coord_system

    result = _service().reverse(lon, lat, parse_coord_system(crs))
    if result.reason:
        typer.echo(f"✗ [{result.reason}] {say(result.reason)}")
    typer.echo(result.address)


def _parts(parsed: object) -> dict[str, object]:
    names = ("province", "city", "district", "street", "community", "road", "number", "compound", "building",
             "unit", "room", "remainder")
    return {name: getattr(parsed, name) for name in names}


def _line(candidate: Candidate) -> str:
    entry = candidate.entry
    why = ", ".join(say(f"places.why.{code}") for code in candidate.why)
    return (f"{candidate.score:5.1f}  {entry.kind.value:8} {entry.code:24} {entry.name}  ({why}) "
            f"{entry.lon:.6f},{entry.lat:.6f}")
