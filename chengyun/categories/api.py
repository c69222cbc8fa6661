"""JSON endpoints of the category catalogue: reads for every signed-in user, edits and imports for admins."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict

from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission
from chengyun.categories.model import Catalogue, Category, CategoryNode
from chengyun.categories.parsing import MAX_IMPORT_BYTES, category_row, format_csv
from chengyun.categories.service import CategoryService
from chengyun.errors import Invalid
from chengyun.shared.handling import Urgency
from chengyun.triage.catalogue import Classifier, suggest_items
from chengyun.web.deps import AppContainer, CurrentPrincipal, requires

router = APIRouter(prefix="/api/categories", tags=["categories"])
Admin = Annotated[Principal, Depends(requires(Permission.CATALOGUE_MANAGE))]


class CategoryChanges(BaseModel):
    """Fields to change; an explicit null resets an inheritable field to its class's value."""

    model_config = ConfigDict(extra="forbid")

    parent_code: str | None = None
    kind: str | None = None
    name: str | None = None
    name_en: str | None = None
    urgency: str | None = None
    response_limit: str | None = None
    handling_limit: str | None = None
    urgent_response_limit: str | None = None
    urgent_handling_limit: str | None = None
    handling_level: str | None = None
    admission: bool | None = None
    self_handle: bool | None = None
    active: bool | None = None


class NewCategory(CategoryChanges):
    """A new class or item; blank inheritable fields take the class's values."""

    code: str
    name: str  # required here, optional in a change


def service(container: AppContainer) -> CategoryService:
    """The catalogue service of the composition root."""
    categories: CategoryService = container.categories
    return categories


Categories = Annotated[CategoryService, Depends(service)]


def category_json(category: Category) -> dict[str, Any]:
    """A category as JSON: stored codes, limits in their text form."""
    data: dict[str, Any] = {**category_row(category), "parent_code": category.parent_code,
                            "admission": category.admission, "self_handle": category.self_handle,
                            "active": category.active}
    data.pop("parent")
    return data


def node_json(node: CategoryNode) -> dict[str, Any]:
    """A category with its children, recursively."""
    return {**category_json(node.category), "children": [node_json(child) for child in node.children]}


@router.get("", summary="The catalogue as a tree of classes and items (or ?format=csv for a file)",
            response_model=None)
async def list_categories(_: CurrentPrincipal, categories: Categories, active_only: bool = False,
                          format: Literal["json", "csv"] = "json") -> list[dict[str, Any]] | Response:
    if format == "csv":
        rows = [category for category in categories.catalogue() if category.active or not active_only]
        return Response(format_csv(rows), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="categories.csv"'})
    return [node_json(node) for node in categories.tree(active_only=active_only)]


@router.get("/suggest", summary="Up to 3 active items for a description, with scores 0–100 and the words that "
            "weighed most (the triage classifier; text similarity when its model knows no items)")
def suggest_categories(_: CurrentPrincipal, container: AppContainer,
                       text: Annotated[str, Query(max_length=2000)] = "") -> dict[str, Any]:
    return suggestions_json(container.categories.catalogue(), text, container.triage)


def suggestions_json(catalogue: Catalogue, text: str, classifier: Classifier | None) -> dict[str, Any]:
    """The top 3 items for `text`: code, name, class name, score, terms, and whether 自办自结 is allowed."""
    return {"items": [{"code": s.code, "name": s.name, "class_name": s.class_name, "score": s.score,
                       "self_handle": s.self_handle, "terms": list(s.terms)}
                      for s in suggest_items(text, catalogue, classifier)]}


@router.get("/{code}", summary="One category with its ancestors and children")
async def get_category(code: str, _: CurrentPrincipal, categories: Categories) -> dict[str, Any]:
    catalogue = categories.catalogue()
    category = catalogue.get(code)
    return {**category_json(category),
            "ancestors": [{"code": a.code, "name": a.name, "kind": a.kind.value} for a in catalogue.ancestors(code)],
            "children": [child.code for child in catalogue.children(code)]}


@router.get("/{code}/limits", summary="Response and handling limits of a category at an urgency")
async def get_limits(code: str, _: CurrentPrincipal, categories: Categories,
                     urgency: Annotated[Urgency, Query()] = Urgency.NORMAL) -> dict[str, str]:
    response, handling = categories.limits_for(code, urgency)
    return {"code": code, "urgency": urgency.value, "response_limit": str(response),
            "handling_limit": str(handling)}


@router.post("", status_code=201, summary="Add a class or item (admins)")
async def create_category(body: NewCategory, admin: Admin, categories: Categories) -> dict[str, Any]:
    created = categories.create(body.model_dump(exclude_unset=True), actor=admin.username, actor_id=admin.user_id)
    return category_json(created)


@router.patch("/{code}", summary="Change a class or item (admins); null resets a field to the class's value")
async def update_category(code: str, body: CategoryChanges, admin: Admin, categories: Categories) -> dict[str, Any]:
    updated = categories.update(code, body.model_dump(exclude_unset=True), actor=admin.username,
                                actor_id=admin.user_id)
    return category_json(updated)


@router.post("/import", summary="Import a catalogue from CSV or Excel (admins; all or nothing, by code)")
async def import_categories(admin: Admin, categories: Categories, file: UploadFile = File(...),
                            format: str = Form("")) -> dict[str, int]:
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid("categories.import.too_large", size=len(data), limit=MAX_IMPORT_BYTES)
    result = categories.import_file(data, filename=file.filename or "upload", fmt=format, actor=admin.username,
                                    actor_id=admin.user_id)
    return {"created": result.created, "updated": result.updated, "unchanged": result.unchanged}
