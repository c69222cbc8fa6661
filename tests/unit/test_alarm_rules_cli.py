"""`chengyun alarms test-rule RULE.yaml READINGS.jsonl`: a dry run prints each transition in local time and a
summary; bad input is one translated line with the line number and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chengyun.alarms.cli import app

RULE = """
# 燃气：20%LEL 持续 30 秒告警，低于 10%LEL 解除
id: gas
alarm_type: gas_leak
severity: critical
applies_to: gas_detector
kind: threshold
params: {property: gas_lel, fire_at: 20, clear_at: 10, for: 30s}
"""


def line(ts: object, **extra: object) -> str:
    return json.dumps({"device_id": "g1", "type": "gas_detector", "ts": ts, "values": {"gas_lel": 25}} | extra)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("CHENGYUN_LANG", "en")
    rule, readings = tmp_path / "rule.yaml", tmp_path / "readings.jsonl"
    rule.write_text(RULE, encoding="utf-8")
    readings.write_text("\n".join([
        line("2026-03-02T10:00:00+08:00"),
        "# a comment, then a blank line",
        "",
        line("2026-03-02T02:00:20Z", values={"gas_lel": 26}),
        line(1772416880, values={"gas_lel": 5}),  # 2026-03-02 10:01:20 +08:00
        line("2026-03-02T10:05:00+08:00", device_id="g2", household="H1", place_codes=["B-1"]),
    ]) + "\n", encoding="utf-8")
    return rule, readings


def test_dry_run_prints_fire_and_clear_in_local_time_with_a_summary(files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(app, ["test-rule", str(files[0]), str(files[1]), "--until", "2026-03-02T11:00+08:00"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("2026-03-02 10:00:30  FIRE") and "gas_leak  critical  g1" in lines[0]
    assert lines[1].startswith("2026-03-02 10:01:20  CLEAR") and "value=5" in lines[1]
    assert lines[2].startswith("2026-03-02 10:05:30  FIRE") and " g2 " in lines[2]  # settled by --until
    assert lines[3] == "4 readings, 1 rules: 2 fired, 1 cleared; still active at the end: g2/gas"


def test_without_until_the_clock_stops_at_the_last_reading(files: tuple[Path, Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_LANG", "zh-CN")
    result = CliRunner().invoke(app, ["test-rule", str(files[0]), str(files[1])])
    assert result.exit_code == 0, result.output
    assert "触发" in result.output and "解除" in result.output and "10:05:30" not in result.output
    assert "共 4 条读数" in result.output


@pytest.mark.parametrize(("bad", "expected"), [
    ('{"device_id": "g1", "type": "gas_detector", "ts": 1}', "Line 3 lacks the field values."),
    ("{not json", "Line 3 is not valid JSON"),
    (line("2026-03-02T10:00:00"), 'Line 3: the time "2026-03-02T10:00:00" has no time zone'),
    (line("yesterday"), 'Line 3: ts = "yesterday" is not valid'),
    (line(5, kind="status"), 'Line 3: kind = "status" is not valid'),
    (line(5, values={"gas_lel": [1]}), "Line 3: values.gas_lel"),
    (line(5, resident_id="x"), "Line 3: resident_id"),
    ("[1, 2]", "Line 3: (line)"),
])
def test_a_bad_line_names_its_number_without_a_traceback(tmp_path: Path, files: tuple[Path, Path], bad: str,
                                                         expected: str) -> None:
    readings = tmp_path / "bad.jsonl"
    readings.write_text(f"{line(1)}\n\n{bad}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["test-rule", str(files[0]), str(readings)])
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output
    assert result.output.startswith("Error [alarms.readings.")


def test_bad_rule_files_and_missing_files_exit_2(tmp_path: Path, files: tuple[Path, Path]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(RULE.replace("threshold", "threshhold"), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["test-rule", str(broken), str(files[1])])
    assert result.exit_code == 2 and 'Rule gas has an unknown kind "threshhold"' in result.output
    missing = runner.invoke(app, ["test-rule", str(tmp_path / "nope.yaml"), str(files[1])])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output
    until = runner.invoke(app, ["test-rule", str(files[0]), str(files[1]), "--until", "soon"])
    assert until.exit_code == 2 and '--until "soon"' in until.output
    zone = runner.invoke(app, ["test-rule", str(files[0]), str(files[1]), "--tz", "Mars/Olympus"])
    assert zone.exit_code == 2 and "Mars/Olympus" in zone.output


def test_the_default_rule_file_dry_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_LANG", "en")
    readings = tmp_path / "r.jsonl"
    readings.write_text("\n".join([
        json.dumps({"device_id": "b1", "type": "sos_button", "kind": "event", "ts": 1772416800,
                    "values": {"event": "sos_pressed"}}),
        json.dumps({"device_id": "b1", "type": "sos_button", "kind": "heartbeat", "ts": 1772416860,
                    "values": {"battery": 15}}),
    ]), encoding="utf-8")
    rules = Path(__file__).resolve().parents[2] / "chengyun" / "alarms" / "data" / "rules.yaml"
    result = CliRunner().invoke(app, ["test-rule", str(rules), str(readings), "--until", "1772424000"])
    assert result.exit_code == 0, result.output
    fired = [row.split()[3] for row in result.output.splitlines() if "FIRE" in row]
    assert fired == ["sos", "low_battery", "device_offline"]
    assert "CLEAR  sos" in result.output


def test_registered_under_the_root_command(files: tuple[Path, Path]) -> None:
    from chengyun.cli import app as root

    result = CliRunner().invoke(root, ["alarms", "test-rule", str(files[0]), str(files[1])])
    assert result.exit_code == 0, result.output
    assert "FIRE" in result.output and "4 readings" in result.output
