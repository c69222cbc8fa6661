"""The default catalogue shipped with the package (data/default_catalogue.csv)."""

from __future__ import annotations

from importlib import resources

from chengyun.categories.model import Category
from chengyun.categories.parsing import parse_catalogue

DEFAULT_FILE = "default_catalogue.csv"


def default_catalogue_bytes() -> bytes:
    """The default catalogue file as shipped (UTF-8 CSV)."""
    return resources.files(__package__).joinpath("data", DEFAULT_FILE).read_bytes()


def default_categories() -> list[Category]:
    """The default catalogue parsed and validated: 13 classes and their items, parents first."""
    return parse_catalogue(default_catalogue_bytes(), "csv", {})
