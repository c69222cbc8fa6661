"""`chengyun alarms …`: dry-run alarm rules against recorded readings (the alarms domain may add more commands)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from chengyun.errors import DomainError, Invalid
from chengyun.i18n import pick_locale, translate

app = typer.Typer(help="Alarms (告警): rules, dry runs.", no_args_is_help=True)

MAX_READINGS_BYTES = 512 * 2**20
F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def alarms() -> None:
    """Alarms (告警): rules, dry runs."""


def _locale() -> str:
    return pick_locale(os.environ.get("CHENGYUN_LANG") or os.environ.get("LANG", "zh-CN").split(".")[0])


def say(code: str, **params: Any) -> str:
    """A message in the terminal's language (CHENGYUN_LANG, then LANG; Chinese by default)."""
    return translate(code, _locale(), **params)


def friendly(fn: F) -> F:
    """Domain errors become one translated line on stderr and exit status 2, as in `chengyun.cli`; kept here so a
    dry run needs neither the database nor the web stack imported."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            typer.echo(f"{say('cli.error')} [{exc.code}] {say(exc.code, **exc.params)}", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.command("test-rule")
@friendly
def test_rule(
    rules_file: Annotated[Path, typer.Argument(metavar="RULE.yaml", help="One rule, a list, or a mapping with rules:")],
    readings_file: Annotated[Path, typer.Argument(metavar="READINGS.jsonl", help="One reading per line (JSON)")],
    until: Annotated[str, typer.Option("--until", help="Run the clock on to this instant (ISO 8601 or epoch)")] = "",
    tz: Annotated[str, typer.Option("--tz", help="Local time zone for schedules and output")] = "Asia/Shanghai",
) -> None:
    """Print when each rule would fire and clear on the recorded readings, one line per transition, then a summary."""
    from chengyun.alarms.engine import RuleEngine
    from chengyun.alarms.replay import explain, local_time, parse_ts, replay
    from chengyun.alarms.rules import load_rules
    from chengyun.alarms.signals import Change

    zone = _zone(tz)
    rules = load_rules(_read(rules_file, 1_000_000))
    end = _until(until, parse_ts) if until else None
    _read(readings_file, MAX_READINGS_BYTES, check_only=True)
    try:
        with readings_file.open(encoding="utf-8") as lines:
            result = replay(RuleEngine(rules, tz=tz), lines, end)
    except UnicodeDecodeError:
        raise Invalid("alarms.cli.not_utf8", path=str(readings_file)) from None
    for t in result.transitions:
        typer.echo(f"{local_time(t.at, zone)}  {say(f'alarms.cli.{t.change.value}'):<6} {t.rule_id}  "
                   f"{t.alarm_type}  {t.severity.value}  {t.device_id}  {explain(t.params, zone)}")
    counts = result.counts()
    active = ", ".join(f"{device}/{rule}" for device, rule in result.still_active) or "-"
    typer.echo(say("alarms.cli.summary", readings=result.readings, rules=len(rules.rules),
                   fires=counts[Change.FIRE], clears=counts[Change.CLEAR], active=active))


def _until(text: str, parse: Callable[[object, int], float]) -> float:
    try:
        return parse(float(text) if text.replace(".", "", 1).isdigit() else text, 0)
    except Invalid:
        raise Invalid("alarms.cli.bad_until", value=text) from None


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("calendar.bad_timezone", value=tz) from None


def _read(path: Path, limit: int, check_only: bool = False) -> str:
    if not path.is_file():
        raise Invalid("files.not_found", path=str(path))
    if path.stat().st_size > limit:
        raise Invalid("alarms.cli.too_large", path=str(path), limit=limit)
    if check_only:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Invalid("alarms.cli.not_utf8", path=str(path)) from None
