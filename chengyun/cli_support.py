"""What every `chengyun <domain> …` command group shares: translated one-line errors, the wired container, and
messages in the terminal's language. Imports of `chengyun.cli` are late: it imports the command groups."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from chengyun.bootstrap import Container

F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """`chengyun.cli.friendly_errors`: domain errors become one translated line and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from chengyun.cli import friendly_errors

        return friendly_errors(fn)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def migrated_container() -> Container:
    """The application wired from the environment, its database migrated."""
    from chengyun.bootstrap import bootstrap
    from chengyun.config import load_settings

    container = bootstrap(load_settings())
    container.migrate()
    return container


def cli_locale() -> str:
    """The terminal's language (CHENGYUN_LANG, then LANG), Chinese by default."""
    from chengyun.cli import _locale

    return _locale()


def say(code: str, **params: Any) -> str:
    """A message in the terminal's language."""
    from chengyun.i18n import translate

    return translate(code, cli_locale(), **params)
