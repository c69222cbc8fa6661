"""Attachments in an S3-compatible bucket: the store against a real S3 server (moto's), and over HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from minio import Minio
from moto.server import ThreadedMotoServer
from urllib3 import PoolManager

from chengyun.adapters.s3 import S3Store, s3_store
from chengyun.adapters.storage import file_id_of
from chengyun.auth.model import Role
from chengyun.bootstrap import Container, attachment_store
from chengyun.errors import Invalid, NotFound, Unavailable
from chengyun.web.app import create_app
from tests.integration.test_attachments_api import gps_of, gps_photo

BUCKET = "chengyun-photos"
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local S3 server speaking the real protocol over HTTP."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture
def store(endpoint: str, request: pytest.FixtureRequest) -> S3Store:
    return s3_store(endpoint, f"s3://{BUCKET}/{request.node.name[:40]}/", "test", "test", secure=False)


def test_put_get_exists_and_sidecar_round_trip_in_the_bucket(store: S3Store, endpoint: str) -> None:
    data = b"\x89PNG fake bytes"
    file_id = store.put(data)
    assert file_id == file_id_of(data) and store.put(data) == file_id  # idempotent, same id
    assert store.get(file_id) == data and store.exists(file_id)
    assert store.read_meta(file_id) is None
    store.write_meta(file_id, {"content_type": "image/png", "width": 8})
    assert store.read_meta(file_id) == {"content_type": "image/png", "width": 8}
    client = Minio(endpoint, access_key="test", secret_key="test", secure=False)
    keys = {o.object_name for o in client.list_objects(BUCKET, prefix=store.prefix, recursive=True)}
    digest = file_id[7:]
    assert keys == {f"{store.prefix}{digest[:2]}/{digest[2:4]}/{digest}",
                    f"{store.prefix}{digest[:2]}/{digest[2:4]}/{digest}.json"}  # the disk store's layout


def test_missing_and_malformed_ids_are_precise_errors(store: S3Store) -> None:
    absent = file_id_of(b"never stored")
    assert not store.exists(absent) and not store.exists("sha256:nothex")
    with pytest.raises(NotFound) as missing:
        store.get(absent)
    assert missing.value.code == "attachments.not_found"
    with pytest.raises(NotFound):
        store.write_meta(absent, {"a": 1})
    with pytest.raises(Invalid) as bad:
        store.get("../../etc/passwd")
    assert bad.value.code == "attachments.bad_id"


def test_an_unreachable_store_is_unavailable_not_a_crash() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    store = s3_store(f"127.0.0.1:{closed_port}", f"s3://{BUCKET}/", "test", "test", secure=False,
                     http_client=PoolManager(retries=0))  # fail at once instead of after five retries
    with pytest.raises(Unavailable) as err:
        store.put(b"data")
    assert err.value.code == "attachments.store_unavailable" and err.value.http_status == 503


@pytest.mark.parametrize("url", ["bucket/prefix", "s3://", "s3:///prefix"])
def test_bad_store_settings_are_refused(url: str) -> None:
    with pytest.raises(Invalid) as err:
        s3_store("127.0.0.1:9000", url, "k", "s", secure=False)
    assert err.value.code == "attachments.bad_store_url"


def test_photos_over_http_live_in_the_bucket_when_configured(tiny_district: Container, endpoint: str) -> None:
    settings = tiny_district.settings.model_copy(update={
        "attachment_store": f"s3://{BUCKET}/http", "s3_endpoint": endpoint, "s3_access_key": "test",
        "s3_secret_key": "test", "s3_secure": False})
    store = attachment_store(settings)
    assert isinstance(store, S3Store) and store.prefix == "http/"
    container = replace(tiny_district, settings=settings, attachments=store)
    container.auth.create_user(username="op1", display_name="op1", role=Role.OPERATOR, scope_code="510113002001",
                               password=PASSWORD)
    client = TestClient(create_app(container))
    csrf = client.post("/api/auth/login", json={"username": "op1", "password": PASSWORD}).json()["csrf_token"]
    photo = gps_photo()
    uploaded = client.post("/api/attachments", headers={"X-CSRF-Token": csrf},
                           files={"file": ("p.jpg", photo, "image/jpeg")})
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    assert store.get(file_id) == photo  # the original, in the bucket
    original = client.get(f"/api/attachments/{file_id}")
    assert original.status_code == 200 and gps_of(original.content)  # staff see the original
    assert not (tiny_district.settings.data_dir / "attachments").exists()  # nothing went to disk
