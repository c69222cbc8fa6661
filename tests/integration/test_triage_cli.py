"""`chengyun triage train/eval/models/use/classify` on a tiny CSV."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chengyun.cli import app

ROWS = [("垃圾", t) for t in ("垃圾桶满了", "路边垃圾发臭", "垃圾没人清运", "垃圾成堆", "楼下垃圾很多")] + \
       [("路灯", t) for t in ("路灯不亮", "路灯坏了", "路灯杆歪了", "小区路灯很黑", "路灯一直闪")]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("CHENGYUN_LANG", "en")
    data = tmp_path / "history.csv"
    data.write_text("类别,内容\n" + "".join(f"{label},{text}\n" for label, text in ROWS), encoding="utf-8")
    return data


def test_train_eval_use_classify(env: Path) -> None:
    runner = CliRunner()
    cols = ["--text-col", "内容", "--label-col", "类别"]
    trained = runner.invoke(app, ["triage", "train", "--data", str(env), "--name", "street", *cols])
    assert trained.exit_code == 0, trained.output
    assert "Trained model" in trained.output and "macro-F1" in trained.output
    version = trained.output.split("Trained model ")[1].split(":")[0]
    evaluated = runner.invoke(app, ["triage", "eval", "--data", str(env), "--folds", "5", *cols])
    assert evaluated.exit_code == 0, evaluated.output
    assert "accuracy" in evaluated.output and "confusion" in evaluated.output and "路灯" in evaluated.output
    held = runner.invoke(app, ["triage", "eval", "--data", str(env), "--holdout", str(env), *cols])
    assert held.exit_code == 0 and "accuracy 1.0000" in held.output
    classified = runner.invoke(app, ["triage", "classify", "楼下的垃圾桶满了"])
    assert classified.exit_code == 0 and classified.output.startswith("垃圾") and version in classified.output
    listing = runner.invoke(app, ["triage", "models"])
    assert f"* {version}" in listing.output
    assert runner.invoke(app, ["triage", "use", version]).exit_code == 0


def test_errors_are_one_translated_line(env: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["triage", "train", "--data", str(env), "--text-col", "text", "--label-col", "类别"])
    assert missing.exit_code == 2 and "[triage.missing_column]" in missing.output
    rare = runner.invoke(app, ["triage", "eval", "--data", str(env), "--folds", "6", "--text-col", "内容",
                               "--label-col", "类别"])
    assert rare.exit_code == 2 and "[triage.label_too_rare]" in rare.output
    unknown = runner.invoke(app, ["triage", "use", "nope"])
    assert unknown.exit_code == 2 and "[triage.unknown_version]" in unknown.output
