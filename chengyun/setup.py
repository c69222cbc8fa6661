"""Installation use cases that span domains: the first admin, importing area files from disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from chengyun.areas.model import AreaDraft, AreaLevel, normalise_code, parse_level
from chengyun.areas.parsing import CsvOptions, GeoJsonOptions, parse_division_csv, parse_geojson
from chengyun.areas.repository import SaveResult
from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Role
from chengyun.bootstrap import Container
from chengyun.errors import Conflict, Invalid
from chengyun.shared.geo import parse_coord_system

MAX_FILE_BYTES = 50 * 1024 * 1024


def create_first_admin(container: Container, username: str, root_code: str | None,
                       root_name: str | None) -> str:
    """Create the first admin scoped to the root of the tree; refuse when an admin exists."""
    if container.auth.count_users(Role.ADMIN):
        raise Conflict("setup.already_initialised")
    root = _root_area(container, root_code, root_name)
    _, password = container.auth.create_user(username=username, display_name="管理员", role=Role.ADMIN,
                                             scope_code=root, actor="init")
    container.categories.ensure_default(actor="init")
    return password


def _root_area(container: Container, root_code: str | None, root_name: str | None) -> str:
    with container.sessions() as session:
        roots = session.scalars(select(AreaRow.code).where(AreaRow.parent_code.is_(None))).all()
    if len(roots) == 1 and not root_code:
        return roots[0]
    if root_code and root_code in roots:
        return root_code
    if roots and not root_code:
        raise Invalid("setup.choose_root", roots=", ".join(roots))
    if not root_code or not root_name:
        raise Invalid("setup.root_needed")
    code = normalise_code(root_code, AreaLevel.CITY)
    draft = AreaDraft(code, root_name.strip(), AreaLevel.CITY, None, None, "init")
    container.areas.import_drafts([draft], actor="init", source="init")
    return code


def import_area_files(container: Container, files: Sequence[Path], *, fmt: str, crs: str,
                      level: str | None, code_field: str, name_field: str, parent_field: str) -> SaveResult:
    """Parse every file first (a later file may use an earlier one's areas as parents), then store all."""
    source = parse_coord_system(crs)
    forced = parse_level(level) if level else None
    known = container.areas.known_levels()
    drafts: list[AreaDraft] = []
    for path in files:
        kind = fmt or ("csv" if path.suffix.lower() == ".csv" else "geojson")
        if kind == "csv":
            options: CsvOptions | GeoJsonOptions = CsvOptions(
                code_col=code_field, name_col=name_field, parent_col=parent_field or None, level=forced,
                source_crs=source)
        elif kind == "geojson":
            options = GeoJsonOptions(code_prop=code_field, name_prop=name_field, parent_prop=parent_field,
                                     level=forced, source_crs=source)
        else:
            raise Invalid("areas.import.unknown_format", format=kind)
        parsed = [replace(d, source=f"{path.name} {d.source}") for d in _parse(path, options, known)]
        drafts.extend(parsed)
        known = {**known, **{d.code: d.level for d in parsed}}
    _refuse_cross_file_duplicates(drafts)
    return container.areas.import_drafts(drafts, actor="cli", source=", ".join(p.name for p in files))


def _parse(path: Path, options: CsvOptions | GeoJsonOptions, known: dict[str, AreaLevel]) -> list[AreaDraft]:
    """Parse one file; problems are re-labelled with the file name."""
    data = _read(path)
    try:
        if isinstance(options, CsvOptions):
            return parse_division_csv(data, options, known)
        return parse_geojson(data, options, known)
    except Invalid as exc:
        problems = exc.params.get("problems")
        if isinstance(problems, list):
            exc.params["problems"] = [replace(p, where=f"{path.name} {p.where}") for p in problems]
        exc.params.setdefault("file", path.name)
        raise


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise Invalid("files.not_found", path=str(path))
    if path.stat().st_size > MAX_FILE_BYTES:
        raise Invalid("areas.import.too_large", size=path.stat().st_size, limit=MAX_FILE_BYTES)
    return path.read_bytes()


def _refuse_cross_file_duplicates(drafts: Sequence[AreaDraft]) -> None:
    seen: dict[str, str] = {}
    for draft in drafts:
        if draft.code in seen:
            raise Invalid("areas.import.duplicate_code", code=draft.code, first=seen[draft.code],
                          where=draft.source)
        seen[draft.code] = draft.source
