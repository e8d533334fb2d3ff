"""One conformance suite for ``ArtifactStore`` as ``vitco.bootstrap.build_artifacts`` builds it
from the settings: the data dir's files, and an S3-compatible bucket through boto3 against
moto's server on 127.0.0.1. Then the attacks: hostile keys are refused by both before any
backend sees them, and the local store follows no link planted under its root."""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.fakes.s3_server import ACCESS_KEY, SECRET_KEY, moto_s3
from vitco.bootstrap import build_artifacts
from vitco.config import Settings
from vitco.integrations.storage import (
    ArtifactNotFound,
    ArtifactStore,
    BadArtifactKey,
    LocalArtifactStore,
    StorageUnavailable,
)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


def _s3_settings(settings: Settings, endpoint: str, bucket: str) -> Settings:
    return settings.model_copy(
        update={
            "storage_backend": "s3",
            "s3_bucket": bucket,
            "s3_endpoint_url": endpoint,
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SecretStr(SECRET_KEY),
            "s3_prefix": "vitco/",
        }
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, settings: Settings) -> ArtifactStore:
    if request.param == "local":
        return build_artifacts(settings)
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"b-{uuid.uuid4().hex[:16]}"
    built: Any = build_artifacts(_s3_settings(settings, endpoint, bucket))
    built.client.create_bucket(Bucket=bucket)
    return built  # type: ignore[no-any-return]


def _fetch(url: str) -> bytes:
    if url.startswith("file://"):
        with urllib.request.urlopen(url) as answer:
            return bytes(answer.read())
    return httpx.get(url).raise_for_status().content


def test_put_get_list_delete_url(store: ArtifactStore) -> None:
    tarball = os.urandom(200_000)
    store.put("acme/r-1/repo.tar.gz", tarball, "application/gzip")
    store.put("acme/r-1/report.json", b'{"status": "delivered"}', "application/json")
    store.put("acme/r-1/screenshots/home.png", b"\x89PNG...", "image/png")
    store.put("acme/r-10/log.txt", b"other run")
    store.put("other/r-2/log.txt", b"another tenant")

    assert store.get("acme/r-1/repo.tar.gz") == tarball
    listed = store.list("acme/r-1")
    assert [o.key for o in listed] == [
        "acme/r-1/repo.tar.gz",
        "acme/r-1/report.json",
        "acme/r-1/screenshots/home.png",
    ]  # fmt: skip  (r-10 is not under r-1: prefixes are whole segments)
    assert listed[0].size == len(tarball) and listed[0].modified.tzinfo is not None
    assert [o.key for o in store.list("acme/r-1/")] == [o.key for o in listed]
    assert len(store.list()) == 5 and store.list("nobody") == []

    store.put("acme/r-1/report.json", b'{"status": "replaced"}')  # replaced whole
    assert store.get("acme/r-1/report.json") == b'{"status": "replaced"}'
    assert _fetch(store.url("acme/r-1/report.json", expires_s=60)) == b'{"status": "replaced"}'

    store.delete("acme/r-1/report.json")
    store.delete("acme/r-1/report.json")  # idempotent
    with pytest.raises(ArtifactNotFound) as raised:
        store.get("acme/r-1/report.json")
    assert raised.value.key == "acme/r-1/report.json"
    assert "acme/r-1/report.json" not in [o.key for o in store.list("acme")]


HOSTILE = [
    "",
    "/etc/passwd",
    "../escape",
    "acme/../../etc/passwd",
    "acme/./x",
    "acme//x",
    "acme/",
    "acme\\..\\x",
    "acme/x\x00y",
    "acme/x\ny",
    "acme/.hidden",
    "acme/-rf",
    "a/" * 20 + "x",
    "x" * 600,
    "acme/naïve",
    "acme/sp ace",
]


def test_hostile_keys_are_refused_by_every_operation(store: ArtifactStore) -> None:
    for key in HOSTILE:
        _refused(store, key)
    assert store.list() == []  # nothing was written anywhere


def _refused(store: ArtifactStore, key: str) -> None:
    for attempt in (
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.delete(key),
        lambda: store.url(key),
    ):
        with pytest.raises(BadArtifactKey) as raised:
            attempt()
        assert raised.value.problem, key


def test_the_local_store_follows_no_planted_link(settings: Settings, tmp_path: Path) -> None:
    store = LocalArtifactStore(settings.artifacts_dir)
    store.put("acme/r-1/report.json", b"{}")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host secret")
    root = settings.artifacts_dir
    (root / "acme" / "link-dir").symlink_to(outside)  # a directory link under the root
    (root / "acme" / "r-1" / "file-link").symlink_to(outside / "secret.txt")

    with pytest.raises(BadArtifactKey, match="not a directory"):
        store.get("acme/link-dir/secret.txt")
    with pytest.raises(BadArtifactKey):
        store.put("acme/link-dir/planted.txt", b"x")
    assert not (outside / "planted.txt").exists()
    with pytest.raises(ArtifactNotFound):
        store.get("acme/r-1/file-link")  # a file link is never read...
    store.put("acme/r-1/file-link", b"replaced")  # ...and writing replaces the link itself
    assert (outside / "secret.txt").read_text() == "host secret"
    assert not (root / "acme" / "r-1" / "file-link").is_symlink()
    store.delete("acme/r-1/report.json")
    with pytest.raises(BadArtifactKey):
        store.delete("acme/link-dir/secret.txt")
    assert (outside / "secret.txt").exists()
    assert [o.key for o in store.list("acme")] == ["acme/r-1/file-link"]  # links not listed


def test_the_local_root_is_private(settings: Settings) -> None:
    store = LocalArtifactStore(settings.artifacts_dir)
    store.put("acme/r-1/log.txt", b"x")
    assert settings.artifacts_dir.stat().st_mode & 0o077 == 0
    assert (settings.artifacts_dir / "acme" / "r-1" / "log.txt").stat().st_mode & 0o077 == 0


def test_s3_down_or_a_missing_bucket_is_unavailable(settings: Settings, s3_endpoint: str) -> None:
    missing = build_artifacts(_s3_settings(settings, s3_endpoint, "no-such-bucket"))
    with pytest.raises(StorageUnavailable) as raised:
        missing.put("acme/x", b"x")
    assert raised.value.backend == "s3" and "NoSuchBucket" in raised.value.detail
    down = build_artifacts(_s3_settings(settings, "http://127.0.0.1:9", "b"))
    with pytest.raises(StorageUnavailable):
        down.get("acme/x")


def test_s3_needs_a_bucket_when_settings_load() -> None:
    with pytest.raises(ValueError, match="VITCO_S3_BUCKET"):
        Settings(storage_backend="s3")
