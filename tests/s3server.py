"""A real S3-compatible server for tests: moto's standalone server, started on a free loopback port.

`s3_url` gives each test its own bucket and exports the AWS_* variables a harvest process reads, so the
code under test finds the server the way it finds AWS: through the environment.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.labelstudio import free_port, wait_for
from tests.services import missing

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "harvest-test", "AWS_SECRET_ACCESS_KEY": "harvest-test-secret",
               "AWS_DEFAULT_REGION": "us-east-1"}


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """The endpoint URL of a moto S3 server running in its own process for the whole session."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        missing("moto's S3 server", "moto[server] is not installed (pip install -e '.[test]')")
    port = free_port()
    log = (tmp_path_factory.mktemp("s3") / "moto.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or _up(url), 60, "moto S3 server answering")
        if proc.poll() is not None:
            pytest.fail(f"moto S3 server exited with {proc.returncode}; see {log.name}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def raw_client(endpoint: str):
    """A plain boto3 client: an independent reader of what harvest wrote."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **{k.lower(): v for k, v in CREDENTIALS.items()
                                                      if k != "AWS_DEFAULT_REGION"}, region_name="us-east-1")


@pytest.fixture
def s3_url(s3_endpoint, monkeypatch) -> str:
    """`s3://<fresh bucket>/blobs`, with the environment pointing every S3 client at the test server."""
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"harvest-{uuid.uuid4().hex[:12]}"
    raw_client(s3_endpoint).create_bucket(Bucket=bucket)
    assert os.environ["AWS_ENDPOINT_URL_S3"] == s3_endpoint
    return f"s3://{bucket}/blobs"
