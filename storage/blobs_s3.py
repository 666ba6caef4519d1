"""Blobs in an S3 bucket (AWS S3 or any S3-compatible server), through boto3.

`blob_url = "s3://bucket/prefix"`; credentials, region and endpoint come from the environment as for
every AWS tool (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or a profile,
AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL for a non-AWS server). Objects live at
`<prefix>/ab/cd/<sha256>`, the same relative paths as on disk. Every put sends the SHA-256 checksum,
so the server refuses bytes that do not match their key.
"""
from __future__ import annotations

import base64
import hashlib
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import urlparse

from storage.blobs import CHUNK, Blobs, check_key, relpath
from storage.errors import BlobNotFound, BlobStoreError

SPOOL = 8 << 20  # put_stream keeps up to this much in memory before spilling to a temp file


def _client() -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover - boto3 is a runtime dependency
        raise BlobStoreError("an s3:// blob_url needs boto3; install harvest with its dependencies.") from None
    config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32,
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.session.Session().client("s3", config=config)


class S3BlobStore(Blobs):
    """Content-addressed blobs as objects under one bucket prefix."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
            raise BlobStoreError(f"blob_url {url!r} is not an S3 location; expected s3://bucket/prefix "
                                 "(the prefix is optional).")
        return cls(parsed.netloc, parsed.path)

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (so a forked worker process makes its own)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = _client()
        return self._client

    def object_key(self, key: str) -> str:
        rel = relpath(key)
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _fail(self, exc: Exception, key: str | None = None) -> Exception:
        """A storage error for a botocore failure: BlobNotFound for a missing object, else BlobStoreError."""
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if key is not None and code in ("404", "NoSuchKey", "NotFound"):
            return BlobNotFound(f"blob {key} is not in {self.location}; restore it from a backup or re-crawl "
                                "its source.")
        if code == "NoSuchBucket":
            return BlobStoreError(f"the bucket {self.bucket!r} of blob_url {self.location} does not exist; "
                                  f"create it (e.g. `aws s3 mb s3://{self.bucket}`) or fix blob_url.")
        return BlobStoreError(f"S3 request to {self.location} failed ({type(exc).__name__}: {exc}); check "
                              "the endpoint (AWS_ENDPOINT_URL_S3), the credentials and the bucket.")

    def _call(self, method: str, key: str | None = None, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, key) from None

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", key, Key=self.object_key(key))
        except BlobNotFound:
            return False
        return True

    def open(self, key: str) -> BinaryIO:
        return self._call("get_object", key, Key=self.object_key(key))["Body"]

    def get(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    def put(self, data: bytes) -> str:
        return self.put_hashed(data, hashlib.sha256(data).hexdigest())

    def put_hashed(self, data: bytes, key: str) -> str:
        """`put` for bytes whose sha256 the caller already computed."""
        check_key(key)
        if not self.exists(key):
            checksum = base64.b64encode(bytes.fromhex(key)).decode()
            self._call("put_object", key, Key=self.object_key(key), Body=data, ChecksumSHA256=checksum)
        return key

    def put_stream(self, stream: BinaryIO) -> str:
        digest = hashlib.sha256()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL) as spool:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                spool.write(chunk)
            key = digest.hexdigest()
            if not self.exists(key):
                spool.seek(0)
                from boto3.s3.transfer import TransferConfig
                from botocore.exceptions import BotoCoreError, ClientError

                try:  # multipart above 8 MiB; the whole object is checked against its SHA-256
                    self.client.upload_fileobj(spool, self.bucket, self.object_key(key),
                                               ExtraArgs={"ChecksumAlgorithm": "SHA256"},
                                               Config=TransferConfig(multipart_threshold=SPOOL))
                except (ClientError, BotoCoreError) as exc:
                    raise self._fail(exc, key) from None
        return key

    def keys(self) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        start = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
                for entry in page.get("Contents", []):
                    name = entry["Key"][len(start):]
                    key = name.rsplit("/", 1)[-1]
                    try:
                        if relpath(key) == name:
                            yield key
                    except ValueError:
                        continue  # not a blob (another tool's object under the prefix)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc) from None
