"""The content-addressed attachment store in an S3-compatible bucket (MinIO, Ceph RGW, cloud object storage).

Same ids and layout as `FileStore` (`<prefix><ab>/<cd>/<hex>` plus a `.json` sidecar), so a street can move its
files from disk to a bucket by copying them. An S3 PUT makes an object appear whole or not at all, which gives
the same guarantee as the disk store's write-then-rename. Uses the small `minio` client, which speaks plain S3.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from minio import Minio
from minio.error import MinioException, S3Error
from urllib3 import PoolManager
from urllib3.exceptions import HTTPError

from chengyun.adapters.storage import SIDECAR_SUFFIX, file_id_of, is_file_id
from chengyun.errors import Invalid, NotFound, Unavailable

MISSING = frozenset({"NoSuchKey", "NoSuchObject", "NotFound", "NoSuchBucket"})  # no bucket yet: no files


@dataclass
class S3Store:
    """Blobs in `bucket` under `prefix`; the same bytes always get the same id and are uploaded once."""

    client: Minio
    bucket: str
    prefix: str = "attachments/"
    _bucket_checked: bool = field(default=False, init=False)

    def _key(self, file_id: str) -> str:
        if not is_file_id(file_id):
            raise Invalid("attachments.bad_id", id=file_id[:80])
        digest = file_id[7:]
        return f"{self.prefix}{digest[:2]}/{digest[2:4]}/{digest}"

    def put(self, data: bytes) -> str:
        """Upload the bytes unless already there (idempotent) and return their id."""
        file_id = file_id_of(data)
        if not self.exists(file_id):
            self._call(self._ensure_bucket)
            self._call(self.client.put_object, self.bucket, self._key(file_id), io.BytesIO(data), len(data))
        return file_id

    def get(self, file_id: str) -> bytes:
        """The stored bytes; NotFound('attachments.not_found') when absent."""
        data = self._read(self._key(file_id))
        if data is None:
            raise NotFound("attachments.not_found", id=file_id)
        return data

    def exists(self, file_id: str) -> bool:
        """True when a well-formed id is stored; malformed ids are simply not there."""
        if not is_file_id(file_id):
            return False
        try:
            self._call(self.client.stat_object, self.bucket, self._key(file_id))
        except NotFound:
            return False
        return True

    def write_meta(self, file_id: str, meta: dict[str, str | int]) -> None:
        """Replace the JSON sidecar of a stored file."""
        if not self.exists(file_id):
            raise NotFound("attachments.not_found", id=file_id)
        text = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")
        self._call(self.client.put_object, self.bucket, self._key(file_id) + SIDECAR_SUFFIX, io.BytesIO(text),
                   len(text), content_type="application/json")

    def read_meta(self, file_id: str) -> dict[str, str | int] | None:
        """The JSON sidecar of a stored file, or None when it has none."""
        raw = self._read(self._key(file_id) + SIDECAR_SUFFIX)
        if raw is None:
            return None
        loaded = json.loads(raw)
        if not isinstance(loaded, dict):
            return None
        return {str(k): v for k, v in loaded.items() if isinstance(v, str | int)}

    def _read(self, key: str) -> bytes | None:
        try:
            response = self._call(self.client.get_object, self.bucket, key)
        except NotFound:
            return None
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def _ensure_bucket(self) -> None:
        if not self._bucket_checked:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
            self._bucket_checked = True

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a client call: a missing object → NotFound, an unreachable or failing store → Unavailable."""
        try:
            return method(*args, **kwargs)
        except S3Error as exc:
            if exc.code in MISSING:
                raise NotFound("attachments.not_found", key=args[1] if len(args) > 1 else "") from exc
            raise Unavailable("attachments.store_unavailable", reason=exc.code or "") from exc
        except (MinioException, HTTPError, OSError) as exc:
            raise Unavailable("attachments.store_unavailable", reason=type(exc).__name__) from exc


def s3_store(endpoint: str, bucket_url: str, access_key: str, secret_key: str, *, secure: bool,
             region: str | None = None, http_client: PoolManager | None = None) -> S3Store:
    """A store from settings: `bucket_url` is `s3://bucket/prefix/`, `endpoint` host:port of the service.

    `http_client` replaces the client's connection pool (its default retries a failed call five times).
    """
    if not bucket_url.startswith("s3://") or not endpoint:
        raise Invalid("attachments.bad_store_url", url=bucket_url)
    bucket, _, prefix = bucket_url[5:].partition("/")
    if not bucket:
        raise Invalid("attachments.bad_store_url", url=bucket_url)
    client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, region=region,
                   http_client=http_client)
    return S3Store(client, bucket, prefix.strip("/") + "/" if prefix.strip("/") else "")
