"""Versioned model artefacts on disk: `<root>/<version>/{model.joblib, meta.json}` and an `active` pointer file."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib

from chengyun.errors import Invalid, NotFound
from chengyun.triage.model import TriageModel

POINTER = "active"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")


def sha256(data: bytes) -> str:
    """Hex digest of a training file, recorded in the metadata."""
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict[str, str]:
    """The libraries a saved model depends on (a model is only loaded by the versions that wrote it, ideally)."""
    import numpy
    import scipy
    import sklearn

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "joblib": joblib.__version__}


@dataclass(frozen=True)
class ModelInfo:
    """One stored version and its metadata."""

    version: str
    meta: dict[str, Any]
    active: bool


class ModelStore:
    """Saves, lists, loads and activates model versions under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def pointer(self) -> Path:
        """The file naming the active version."""
        return self.root / POINTER

    def save(self, model: TriageModel, meta: dict[str, Any], *, name: str, created_at: datetime) -> str:
        """Write a new version (never overwrites one) and return its name."""
        base = f"{created_at.strftime('%Y%m%dT%H%M%S')}-{_slug(name)}"
        version, n = base, 1
        while (self.root / version).exists():
            n += 1
            version = f"{base}-{n}"
        check_version(version)
        tmp = self.root / f".{version}.tmp"
        tmp.mkdir(parents=True)
        joblib.dump(model, tmp / "model.joblib")
        full = {"version": version, "created_at": created_at.isoformat(), **meta, "libraries": library_versions()}
        (tmp / "meta.json").write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.rename(self.root / version)
        return version

    def load(self, version: str) -> TriageModel:
        """The model of one version."""
        path = self._dir(version) / "model.joblib"
        model = joblib.load(path)
        if not isinstance(model, TriageModel):
            raise Invalid("triage.bad_artefact", version=version)
        return model

    def meta(self, version: str) -> dict[str, Any]:
        """The metadata of one version."""
        data: dict[str, Any] = json.loads((self._dir(version) / "meta.json").read_text(encoding="utf-8"))
        return data

    def versions(self) -> list[ModelInfo]:
        """Every stored version, oldest first."""
        if not self.root.is_dir():
            return []
        active = self.active()
        names = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        return [ModelInfo(name, self.meta(name), name == active) for name in names]

    def active(self) -> str | None:
        """The active version's name, or None before any is activated."""
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def activate(self, version: str) -> None:
        """Point `active` at a stored version (atomic replace: readers see the old or the new name)."""
        self._dir(version)
        tmp = self.root / f".{POINTER}.{os.getpid()}.tmp"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, self.pointer)

    def pointer_stamp(self) -> tuple[int, int] | None:
        """(mtime in ns, inode) of the pointer file: changes when any process switches the model."""
        try:
            stat = self.pointer.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_ino

    def _dir(self, version: str) -> Path:
        check_version(version)
        path = self.root / version
        if not (path / "model.joblib").is_file():
            raise NotFound("triage.unknown_version", version=version)
        return path


def check_version(version: str) -> None:
    """Refuse names that are not plain directory names."""
    if not _VERSION.match(version):
        raise Invalid("triage.bad_version", version=version)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "model"
