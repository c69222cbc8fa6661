"""Validating a catalogue file (or one edited category) into categories, all or nothing.

Pure: rows of text in, `Category` values out. Every problem is collected with the row, the column and the
value, and raised together as `Invalid("categories.import_invalid", problems=[first 50], count=N)`, so a file
can be fixed in one go. Blank inheritable cells take the class's value (then the system defaults); checks run
on the catalogue as it would be after the import (`known` holds the stored categories).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from chengyun.categories.model import (
    INHERITED_FIELDS,
    MAX_NAME,
    MAX_NAME_EN,
    SYSTEM_DEFAULTS,
    CatalogueProblem,
    Category,
    CategoryKind,
    exceeds,
    valid_code,
)
from chengyun.categories.tabular import FILE, Record, csv_records, xlsx_records
from chengyun.errors import Invalid
from chengyun.shared.handling import HandlingLevel, TimeLimit, Urgency

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 50
FORMATS = ("csv", "xlsx")
COLUMNS = ("code", "parent", "kind", "name", "name_en", "urgency", "response_limit", "handling_limit",
           "urgent_response_limit", "urgent_handling_limit", "handling_level", "admission", "self_handle", "active")
REQUIRED_COLUMNS = ("code", "name")
IGNORED_COLUMNS = frozenset({"note", "notes", "备注", "说明"})
_ALIASES = {
    "编码": "code", "代码": "code", "parent_code": "parent", "上级": "parent", "上级编码": "parent",
    "类型": "kind", "名称": "name", "英文名称": "name_en", "紧急程度": "urgency", "响应时限": "response_limit",
    "签收时限": "response_limit", "处置时限": "handling_limit", "紧急响应时限": "urgent_response_limit",
    "紧急处置时限": "urgent_handling_limit", "处置层级": "handling_level", "准入": "admission",
    "社区准入": "admission", "自办自结": "self_handle", "启用": "active",
}
_KINDS = {"class": CategoryKind.CLASS, "大类": CategoryKind.CLASS, "item": CategoryKind.ITEM, "小类": CategoryKind.ITEM}
_URGENCIES = {"normal": Urgency.NORMAL, "一般": Urgency.NORMAL, "urgent": Urgency.URGENT, "紧急": Urgency.URGENT,
              "critical": Urgency.CRITICAL, "特急": Urgency.CRITICAL}
_LEVELS = {"property": HandlingLevel.PROPERTY, "物业": HandlingLevel.PROPERTY, "小区": HandlingLevel.PROPERTY,
           "community": HandlingLevel.COMMUNITY, "社区": HandlingLevel.COMMUNITY,
           "street": HandlingLevel.STREET, "街道": HandlingLevel.STREET,
           "district": HandlingLevel.DISTRICT, "区": HandlingLevel.DISTRICT, "区级": HandlingLevel.DISTRICT,
           "city": HandlingLevel.CITY, "市": HandlingLevel.CITY, "市级": HandlingLevel.CITY}
_FLAGS = {"true": True, "yes": True, "y": True, "1": True, "是": True,
          "false": False, "no": False, "n": False, "0": False, "否": False}
_LIMIT_COLUMNS = ("response_limit", "handling_limit", "urgent_response_limit", "urgent_handling_limit")


@dataclass(frozen=True, slots=True)
class Row:
    """One category as text cells keyed by column; `label` says where it came from ('row 7', 'request')."""

    label: str
    values: Mapping[str, str]
    number: int | None = None
    extra: tuple[str, ...] = ()  # non-blank cells to the right of the header (e.g. an unquoted comma)


@dataclass(frozen=True, slots=True)
class _Draft:
    """A row whose identity is readable; `given` holds the inheritable values that were not left blank."""

    index: int
    where: str
    code: str
    kind: CategoryKind
    parent: str | None
    name: str
    name_en: str
    active: bool
    given: dict[str, Any]  # field name → parsed value, fed to dataclasses.replace


# --- public API ------------------------------------------------------------------------------------------


def format_for(filename: str, fmt: str = "") -> str:
    """The import format: given explicitly, else by the file's extension."""
    extension = filename.rsplit(".", 1)[-1] if "." in filename else ""
    chosen = (fmt.strip() or extension).lower()
    if chosen not in FORMATS:
        raise Invalid("categories.import.unknown_format", format=chosen or filename, allowed=", ".join(FORMATS))
    return chosen


def read_rows(data: bytes, fmt: str) -> list[Row]:
    """CSV or Excel bytes → rows keyed by canonical column names; unreadable files raise Invalid."""
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid("categories.import.too_large", size=len(data), limit=MAX_IMPORT_BYTES)
    records = xlsx_records(data) if fmt == "xlsx" else csv_records(data)
    if isinstance(records, CatalogueProblem):
        _refuse([records])
    if not records:
        _refuse([CatalogueProblem("categories.import.empty_file", FILE, {})])
    header = _header(records[0])
    if not records[1:]:
        _refuse([CatalogueProblem("categories.import.empty_file", FILE, {})])
    rows: list[Row] = []
    for record in records[1:]:
        values = {column: cell for column, cell in zip(header, record.cells, strict=False) if column}
        extra = tuple(cell for cell in record.cells[len(header):] if cell)
        rows.append(Row(f"row {record.number}", values, record.number, extra))
    return rows


def parse_catalogue(data: bytes, fmt: str, known: Mapping[str, Category]) -> list[Category]:
    """A whole file → categories, parents first; refuses with every problem found."""
    return validate_rows(read_rows(data, fmt), known)


def validate_rows(rows: Sequence[Row], known: Mapping[str, Category], *,
                  error: str = "categories.import_invalid") -> list[Category]:
    """Rows → categories (parents first), checked against each other and the stored catalogue `known`.

    Refusals raise `Invalid(error, problems=…, count=…)`; an edit passes `categories.invalid`.
    """
    found: dict[int, list[CatalogueProblem]] = {}
    drafts: list[_Draft] = []
    for index, row in enumerate(rows):
        draft, found[index] = _read_row(index, row)
        if draft is not None:
            drafts.append(draft)
    unique = _unique(drafts, found)
    graph = {code: c.parent_code for code, c in known.items()} | {code: d.parent for code, d in unique.items()}
    kinds = {code: c.kind for code, c in known.items()} | {code: d.kind for code, d in unique.items()}
    for draft in unique.values():
        found[draft.index].extend(_link_problems(draft, graph, kinds))
    _refuse_if_any(found, error)
    categories = _resolve(sorted(unique.values(), key=lambda d: (_depth(d.code, graph), d.index)), known, found)
    _refuse_if_any(found, error)
    return categories


def category_row(category: Category) -> dict[str, str]:
    """A category as the text cells of a catalogue file (the inverse of reading a row)."""
    values = {"code": category.code, "parent": category.parent_code or "", "kind": category.kind.value,
              "name": category.name, "name_en": category.name_en, "active": _flag_text(category.active)}
    for column in INHERITED_FIELDS:
        value = getattr(category, column)
        values[column] = _flag_text(value) if isinstance(value, bool) else str(value)
    return values


def format_csv(categories: Sequence[Category]) -> str:
    """Categories as a catalogue CSV that `parse_catalogue` reads back unchanged."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for category in categories:
        writer.writerow(category_row(category))
    return out.getvalue()


def fields_row(fields: Mapping[str, object], label: str = "request") -> Row:
    """Fields of an API request (text, booleans, None for blank; `parent_code` or `parent`) as a row."""
    def text(value: object) -> str:
        return "" if value is None else _flag_text(value) if isinstance(value, bool) else str(value).strip()

    return Row(label, {"parent" if key == "parent_code" else key: text(value) for key, value in fields.items()})


# --- reading one row ------------------------------------------------------------------------------------

_CellProblem = Callable[..., None]  # problem(code, column, **params): records a problem for a cell of the row


def _header(record: Record) -> list[str]:
    """Canonical column names (aliases accepted); unknown, duplicate or missing columns refuse the file."""
    header = [_ALIASES.get(cell.lower(), cell.lower()) for cell in record.cells]
    unknown = [cell for cell, column in zip(record.cells, header, strict=True)
               if column and column not in COLUMNS and column not in IGNORED_COLUMNS]
    twice = sorted({column for column in header if column in COLUMNS and header.count(column) > 1})
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    where = f"row {record.number}"
    if unknown:
        _refuse([CatalogueProblem("categories.import.unknown_columns", where,
                                  {"unknown": ", ".join(unknown), "allowed": ", ".join(COLUMNS)})])
    if missing:
        _refuse([CatalogueProblem("categories.import.missing_columns", where,
                                  {"missing": ", ".join(missing), "found": ", ".join(record.cells)})])
    if twice:
        _refuse([CatalogueProblem("categories.import.duplicate_columns", where, {"duplicate": ", ".join(twice)})])
    return [column if column in COLUMNS else "" for column in header]


def _read_row(index: int, row: Row) -> tuple[_Draft | None, list[CatalogueProblem]]:
    """A draft when the code is readable (other cells may still be wrong), and every problem of the row."""
    values = row.values
    code, parent = values.get("code", ""), values.get("parent", "") or None
    where = f"{row.label} ({_shown(code)})" if code else row.label
    problems: list[CatalogueProblem] = []

    def problem(error: str, column: str, /, **params: object) -> None:
        value = values.get(column, "")
        problems.append(CatalogueProblem(error, where, {"row": row.number, "column": column, "value": value,
                                                        **params}))

    if row.extra:
        problems.append(CatalogueProblem("categories.import.extra_cells", where,
                                         {"row": row.number, "count": len(row.extra), "value": row.extra[0]}))
    _check_texts(values, problem)
    cells = {column: values.get(column, "") for column in ("kind", "active", *INHERITED_FIELDS)}
    parsed = {column: _cell(column, text, problem) for column, text in cells.items() if text}
    if not valid_code(code):
        return None, problems
    kind = parsed.get("kind")
    if not isinstance(kind, CategoryKind):  # blank (or unreadable, already reported): implied by the parent
        kind = CategoryKind.ITEM if parent else CategoryKind.CLASS
    given = {column: parsed[column] for column in INHERITED_FIELDS if parsed.get(column) is not None}
    active = parsed.get("active") is not False
    return _Draft(index, where, code, kind, parent, values.get("name", ""), values.get("name_en", ""), active,
                  given), problems


def _check_texts(values: Mapping[str, str], problem: _CellProblem) -> None:
    """Codes must be well formed, the name present, names not too long."""
    code, parent = values.get("code", ""), values.get("parent", "")
    if not code:
        problem("categories.import.missing_value", "code")
    elif not valid_code(code):
        problem("categories.import.bad_code", "code")
    if parent and not valid_code(parent):
        problem("categories.import.bad_code", "parent")
    if not values.get("name"):
        problem("categories.import.missing_value", "name")
    for column, limit in (("name", MAX_NAME), ("name_en", MAX_NAME_EN)):
        if len(values.get(column, "")) > limit:
            problem("categories.import.too_long", column, max=limit)


def _cell(column: str, text: str, problem: _CellProblem) -> object:
    """One non-blank cell parsed for its column, or None after reporting why it is wrong."""
    if column in _LIMIT_COLUMNS:
        try:
            return TimeLimit.parse(text)
        except Invalid as exc:
            problem("categories.import.bad_limit", column, reason=exc.code)
            return None
    choices, error = _CHOICES[column]
    value = choices.get(text.lower())
    if value is None:
        problem(error, column, allowed=", ".join(dict.fromkeys(str(v) for v in choices.values())))
    return value


_CHOICES: dict[str, tuple[Mapping[str, object], str]] = {
    "kind": (_KINDS, "categories.import.bad_kind"),
    "urgency": (_URGENCIES, "categories.import.bad_urgency"),
    "handling_level": (_LEVELS, "categories.import.bad_level"),
    "admission": (_FLAGS, "categories.import.bad_flag"),
    "self_handle": (_FLAGS, "categories.import.bad_flag"),
    "active": (_FLAGS, "categories.import.bad_flag"),
}


# --- the whole file -------------------------------------------------------------------------------------


def _unique(drafts: Sequence[_Draft], found: dict[int, list[CatalogueProblem]]) -> dict[str, _Draft]:
    """The first draft of each code; later ones are reported as duplicates."""
    first: dict[str, _Draft] = {}
    for draft in drafts:
        if draft.code in first:
            found[draft.index].append(CatalogueProblem("categories.import.duplicate_code", draft.where,
                                                       {"code": draft.code, "first": first[draft.code].where}))
        else:
            first[draft.code] = draft
    return first


def _link_problems(draft: _Draft, graph: Mapping[str, str | None],
                   kinds: Mapping[str, CategoryKind]) -> list[CatalogueProblem]:
    """Items hang under a class that exists; no category is its own ancestor; items have no children."""
    def problem(code: str, /, **params: object) -> CatalogueProblem:
        return CatalogueProblem(code, draft.where, {"code": draft.code, **params})

    problems: list[CatalogueProblem] = []
    parent = draft.parent
    if parent is None and draft.kind is CategoryKind.ITEM:
        problems.append(problem("categories.import.item_without_class"))
    elif parent is not None and parent not in kinds:
        problems.append(problem("categories.import.unknown_parent", parent=parent))
    elif parent is not None and kinds[parent] is CategoryKind.ITEM:
        problems.append(problem("categories.import.parent_not_class", parent=parent))
    cycle = _cycle(draft.code, graph)
    if cycle:
        problems.append(problem("categories.import.cycle", path=" → ".join(cycle)))
    children = sorted(code for code, up in graph.items() if up == draft.code)
    if draft.kind is CategoryKind.ITEM and children:
        problems.append(problem("categories.import.item_has_children", children=", ".join(children[:10])))
    return problems


def _cycle(code: str, graph: Mapping[str, str | None]) -> list[str]:
    """The parent chain from `code` back to itself, or [] when the chain ends at a root."""
    chain = [code]
    parent = graph.get(code)
    while parent is not None and parent in graph and len(chain) <= len(graph):
        chain.append(parent)
        if parent == code:
            return chain
        parent = graph[parent]
    return []


def _depth(code: str, graph: Mapping[str, str | None]) -> int:
    """How many ancestors a (validated, acyclic) code has."""
    depth, parent = 0, graph.get(code)
    while parent is not None and depth <= len(graph):
        depth, parent = depth + 1, graph.get(parent)
    return depth


def _resolve(drafts: Sequence[_Draft], known: Mapping[str, Category],
             found: dict[int, list[CatalogueProblem]]) -> list[Category]:
    """Fill blank inheritable cells from the class (parents come first), then check the limits' order."""
    resolved: dict[str, Category] = {}
    for draft in drafts:
        base = SYSTEM_DEFAULTS
        if draft.parent is not None:
            base = resolved.get(draft.parent) or known[draft.parent]
        category = replace(base, code=draft.code, name=draft.name, kind=draft.kind, parent_code=draft.parent,
                           name_en=draft.name_en, active=draft.active, **draft.given)
        for response, handling in (("response_limit", "handling_limit"),
                                   ("urgent_response_limit", "urgent_handling_limit")):
            if exceeds(getattr(category, response), getattr(category, handling)):
                found[draft.index].append(CatalogueProblem(
                    "categories.import.limits_order", draft.where,
                    {"code": draft.code, "response": str(getattr(category, response)),
                     "handling": str(getattr(category, handling)), "column": response}))
        resolved[draft.code] = category
    return list(resolved.values())


# --- helpers --------------------------------------------------------------------------------------------


def _flag_text(value: object) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _refuse_if_any(found: Mapping[int, list[CatalogueProblem]], error: str) -> None:
    problems = [problem for index in sorted(found) for problem in found[index]]
    if problems:
        _refuse(problems, error)


def _refuse(problems: list[CatalogueProblem], error: str = "categories.import_invalid") -> NoReturn:
    raise Invalid(error, problems=problems[:MAX_REPORTED_PROBLEMS], count=len(problems))
