"""Remote-source fixtures: the loopback servers of ``servers.py`` and a clean credential setup.

Every test gets an environment with no AWS files of the machine (``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE`` point into the test folder) and the test S3 credentials in the
environment; a test that wants the credentials-file route removes them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from servers import S3, S3_KEY_ID, S3_SECRET, ftp_server, http_server, s3_server


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "SFTFORGE_FTP_USER",
        "SFTFORGE_FTP_PASSWORD",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("SFTFORGE_S3_ENDPOINT", "http://127.0.0.1:1")  # each test sets its own


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the HTTP and FTP servers serve (tests write their files into it)."""
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="module")
def http(served: Path) -> Iterator[str]:
    with http_server(served) as url:
        yield url


@pytest.fixture(scope="module")
def http_auth(served: Path) -> Iterator[str]:
    with http_server(served, auth=True) as url:
        yield url


@pytest.fixture(scope="module")
def ftp(served: Path) -> Iterator[str]:
    with ftp_server(served) as url:
        yield url


@pytest.fixture(scope="module")
def s3_store() -> Iterator[S3]:
    with s3_server() as store:
        yield store


@pytest.fixture
def s3(s3_store: S3, monkeypatch: pytest.MonkeyPatch) -> S3:
    monkeypatch.setenv("SFTFORGE_S3_ENDPOINT", s3_store.endpoint)
    return s3_store
