"""Content-addressed file storage on disk: `sha256:<hex>` ids, atomic writes, small JSON sidecars."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from chengyun.errors import Invalid, NotFound

ID_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
SIDECAR_SUFFIX = ".json"


def is_file_id(value: str) -> bool:
    """True for a well-formed id: `sha256:` and 64 lowercase hex digits, nothing else."""
    return ID_PATTERN.fullmatch(value) is not None


def file_id_of(data: bytes) -> str:
    """The id that `FileStore.put` gives these bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FileStore:
    """Blobs under root/ab/cd/<hex>; the same bytes always get the same id and are written once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, file_id: str) -> Path:
        if not is_file_id(file_id):
            raise Invalid("attachments.bad_id", id=file_id[:80])
        digest = file_id[7:]
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store the bytes (idempotent) and return their id."""
        file_id = file_id_of(data)
        path = self._path(file_id)
        if not path.exists():
            _write_atomically(path, data)
        return file_id

    def get(self, file_id: str) -> bytes:
        """The stored bytes; NotFound('attachments.not_found') when absent."""
        try:
            return self._path(file_id).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound("attachments.not_found", id=file_id) from exc

    def exists(self, file_id: str) -> bool:
        """True when a well-formed id is stored; malformed ids are simply not there."""
        return is_file_id(file_id) and self._path(file_id).is_file()

    def write_meta(self, file_id: str, meta: dict[str, str | int]) -> None:
        """Replace the JSON sidecar next to a stored file."""
        path = self._path(file_id)
        if not path.is_file():
            raise NotFound("attachments.not_found", id=file_id)
        text = json.dumps(meta, ensure_ascii=False, sort_keys=True)
        _write_atomically(path.with_name(path.name + SIDECAR_SUFFIX), text.encode("utf-8"))

    def read_meta(self, file_id: str) -> dict[str, str | int] | None:
        """The JSON sidecar of a stored file, or None when it has none."""
        path = self._path(file_id)
        try:
            raw = path.with_name(path.name + SIDECAR_SUFFIX).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        loaded = json.loads(raw)
        if not isinstance(loaded, dict):
            return None
        return {str(k): v for k, v in loaded.items() if isinstance(v, str | int)}


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
