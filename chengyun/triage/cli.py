"""`chengyun triage …`: train and evaluate the classifier on a labelled file, list and switch models, classify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chengyun.cli_support import friendly, say
from chengyun.triage.evaluation import Evaluation
from chengyun.triage.service import TriageService

app = typer.Typer(help="Report triage: a classifier trained on historical records (CSV or Excel).",
                  no_args_is_help=True)

TextCol = Annotated[str, typer.Option("--text-col", help="Column with the message text")]
LabelCol = Annotated[str, typer.Option("--label-col", help="Column with the label")]
Data = Annotated[Path, typer.Option("--data", help="Labelled records: .csv (UTF-8) or .xlsx with a header row")]


def _service() -> TriageService:
    from chengyun.bootstrap import bootstrap
    from chengyun.config import load_settings

    return bootstrap(load_settings()).triage  # the classifier needs no database


@app.command("train")
@friendly
def train_cmd(data: Data, text_col: TextCol = "text", label_col: LabelCol = "label",
              name: Annotated[str, typer.Option(help="Name part of the version (default: file name)")] = "",
              folds: Annotated[int, typer.Option(help="Folds of the cross-validation stored with the model")] = 5,
              activate: Annotated[bool, typer.Option("--activate/--no-activate", help="Make it active")] = True,
              ) -> None:
    """Train a new model version on a labelled file and (by default) make it the active one."""
    trained = _service().train_file(data, text_col=text_col, label_col=label_col, name=name, folds=folds,
                                    activate=activate)
    typer.echo(say("triage.trained", version=trained.version, rows=trained.rows, labels=len(trained.labels)))
    if trained.evaluation is not None:
        _echo_evaluation(trained.evaluation, matrix=False)


@app.command("eval")
@friendly
def eval_cmd(data: Data, text_col: TextCol = "text", label_col: LabelCol = "label",
             folds: Annotated[int, typer.Option(help="Stratified folds")] = 5,
             holdout: Annotated[Path | None, typer.Option(help="Train on --data, score on this file")] = None,
             ) -> None:
    """Stratified k-fold cross-validation, or a held-out file: accuracy, macro-F1, per class, confusion matrix."""
    _echo_evaluation(_service().evaluate_file(data, text_col=text_col, label_col=label_col, folds=folds,
                                              holdout=holdout))


@app.command("models")
@friendly
def models_cmd() -> None:
    """List the stored model versions; * marks the active one."""
    service = _service()
    service.active_version()  # a fresh install gets its demo model here
    for info in service.store.versions():
        cv = info.meta.get("cross_validation") or {}
        figure = f"macro-F1 {cv['macro_f1_mean']:.3f}" if cv else "-"
        typer.echo(f"{'*' if info.active else ' '} {info.version:40} {info.meta.get('rows', 0):>7} "
                   f"{len(info.meta.get('labels', [])):>3} {figure:16} {info.meta.get('data_file', '')}")


@app.command("use")
@friendly
def use_cmd(version: str) -> None:
    """Make a stored version active; running processes pick it up within seconds."""
    _service().use(version)
    typer.echo(say("triage.activated", version=version))


@app.command("classify")
@friendly
def classify_cmd(text: str) -> None:
    """Classify one text with the active model: label, confidence, three suggestions and their terms."""
    service = _service()
    result = service.classify(text)
    typer.echo(f"{result.label}\t{result.confidence:.3f}\t{service.active_version()}")
    if result.needs_operator:
        typer.echo(say("triage.needs_operator", threshold=service.min_confidence))
    for suggestion in result.suggestions:
        typer.echo(f"  {suggestion.label:12} {suggestion.probability:.3f}  {' '.join(suggestion.terms)}")


def _echo_evaluation(result: Evaluation, *, matrix: bool = True) -> None:
    typer.echo(f"accuracy {result.accuracy:.4f}  macro-F1 {result.macro_f1:.4f}  "
               f"(folds: {len(result.fold_macro_f1)}, mean {result.macro_f1_mean:.4f} ± {result.macro_f1_std:.4f})")
    typer.echo(f"{'label':16} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}")
    for row in result.per_class:
        typer.echo(f"{row.label:16} {row.precision:9.3f} {row.recall:7.3f} {row.f1:7.3f} {row.support:8d}")
    if matrix:
        typer.echo("confusion (rows: true, columns: predicted, in the order above)")
        for label, counts in zip(result.labels, result.confusion, strict=True):
            typer.echo(f"{label:16} " + " ".join(f"{c:5d}" for c in counts))
