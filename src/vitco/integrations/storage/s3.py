"""Artifacts in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2...), through boto3.

The client is passed in (``boto3.client("s3", endpoint_url=..., ...)``, built by
``vitco.bootstrap``); every key is checked (``check_key``) and put under ``prefix`` in
``bucket``. Vendor errors are translated here: a missing key is :class:`ArtifactNotFound`,
anything else the client raises is :class:`StorageUnavailable`.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from vitco.integrations.storage.exceptions import ArtifactNotFound, StorageUnavailable
from vitco.integrations.storage.protocol import Listing, StoredObject, check_key, check_prefix

BACKEND = "s3"
_MISSING = {"NoSuchKey", "404", "NotFound"}


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3ArtifactStore:
    """Artifacts as objects ``<prefix><key>`` of ``bucket``, with the boto3 S3 ``client``."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError)

    def _name(self, key: str) -> str:
        check_key(key)
        return self.prefix + key

    def _unavailable(self, exc: Exception) -> StorageUnavailable:
        return StorageUnavailable(BACKEND, f"{type(exc).__name__}: {exc}"[:300])

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        name = self._name(key)
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type
            )
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def get(self, key: str) -> bytes:
        name = self._name(key)
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=name)
            return bytes(answer["Body"].read())
        except self._errors as exc:
            if _code(exc) in _MISSING:
                raise ArtifactNotFound(key) from exc
            raise self._unavailable(exc) from exc

    def list(self, prefix: str = "") -> Listing:
        parts = check_prefix(prefix)
        start = self.prefix + ("/".join(parts) + "/" if parts else "")
        found: Listing = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = str(item["Key"])[len(self.prefix) :]
                    modified = item["LastModified"]
                    if modified.tzinfo is None:
                        modified = modified.replace(tzinfo=UTC)
                    found.append(StoredObject(key, int(item["Size"]), modified))
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        return sorted(found, key=lambda o: o.key)

    def delete(self, key: str) -> None:
        name = self._name(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=name)
        except self._errors as exc:
            if _code(exc) in _MISSING:
                return
            raise self._unavailable(exc) from exc

    def url(self, key: str, expires_s: int = 3600) -> str:
        name = self._name(key)
        try:
            return str(
                self.client.generate_presigned_url(
                    "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=expires_s
                )
            )
        except self._errors as exc:
            raise self._unavailable(exc) from exc
