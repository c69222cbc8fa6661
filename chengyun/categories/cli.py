"""`chengyun categories …`: import a catalogue file, list the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chengyun.categories.model import Category, CategoryNode
from chengyun.categories.parsing import MAX_IMPORT_BYTES
from chengyun.categories.service import CategoryService
from chengyun.cli_support import cli_locale, friendly, migrated_container
from chengyun.errors import Invalid

app = typer.Typer(help="Category catalogue (事件分类目录): import a CSV/Excel file, list the tree.",
                  no_args_is_help=True)
def _service() -> CategoryService:
    container = migrated_container()
    return CategoryService(container.sessions, container.clock, container.audit)


def _locale() -> str:
    return cli_locale()


@app.command("import")
@friendly
def import_file(
    file: Annotated[Path, typer.Argument(help="A catalogue file (.csv UTF-8 or .xlsx) with a header row")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx (default: by extension)")] = "",
) -> None:
    """Import categories all or nothing, by code; a bad file is refused with every problem listed."""
    from chengyun.i18n import translate

    if not file.is_file():
        raise Invalid("files.not_found", path=str(file))
    if file.stat().st_size > MAX_IMPORT_BYTES:
        raise Invalid("categories.import.too_large", size=file.stat().st_size, limit=MAX_IMPORT_BYTES)
    result = _service().import_file(file.read_bytes(), filename=file.name, fmt=fmt, actor="cli")
    typer.echo(translate("cli.categories_imported", _locale(), created=result.created, updated=result.updated,
                         unchanged=result.unchanged))


@app.command("list")
@friendly
def list_categories(
    active_only: Annotated[bool, typer.Option("--active-only", help="Hide retired categories")] = False,
) -> None:
    """Print the catalogue: classes, then their items with urgency, limits, level and flags."""
    for node in _service().tree(active_only=active_only):
        _echo(node, depth=0)


def _echo(node: CategoryNode, depth: int) -> None:
    typer.echo(f"{'  ' * depth}{describe(node.category)}")
    for child in node.children:
        _echo(child, depth + 1)


def describe(category: Category) -> str:
    """One line: code, name, urgency, normal and urgent limits, level, and the flags that are set."""
    flags = [flag for flag, on in (("admission", category.admission), ("self_handle", category.self_handle),
                                   ("retired", not category.active)) if on]
    return (f"{category.code:6} {category.name}  [{category.urgency.value}; "
            f"{category.response_limit}/{category.handling_limit}; "
            f"urgent {category.urgent_response_limit}/{category.urgent_handling_limit}; "
            f"{category.handling_level.value}{''.join(f'; {flag}' for flag in flags)}]")
