"""Storage backends under test: local, S3 on a moto server, GCS on its emulator.

The servers are started once per session (tests/services.py); each test gets a
fresh bucket and its environment set through monkeypatch, and builds Ferry's
storage through ``open_storage(Settings(FERRY_STORAGE=...))`` like the workers do.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from google.cloud import storage as gcs

from tests.services import Service, gcs_emulator, moto_s3_server
from tests.storage.helpers import isolate_aws, unique_bucket
from workers.core.settings import Settings
from workers.storage import Storage, open_storage

BACKENDS = ("local", "s3", "gcs")


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[Service]:
    with moto_s3_server() as service:
        yield service


@pytest.fixture(scope="session")
def moto_s3_auth() -> Iterator[Service]:
    """A second moto server that checks credentials like real S3."""
    with moto_s3_server(auth=True) as service:
        yield service


@pytest.fixture(scope="session")
def gcs_emu() -> Iterator[Service]:
    with gcs_emulator() as service:
        yield service


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_s3: Service) -> Service:
    isolate_aws(monkeypatch, tmp_path, moto_s3)
    return moto_s3


@pytest.fixture
def gcs_env(monkeypatch: pytest.MonkeyPatch, gcs_emu: Service) -> Service:
    for name, value in gcs_emu.env.items():
        monkeypatch.setenv(name, value)
    return gcs_emu


@pytest.fixture
def make_storage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[str], Storage]:
    """``make_storage(backend)`` -> a Storage on a fresh bucket (created here) with prefix ``pre``."""

    def make(backend: str) -> Storage:
        if backend == "local":
            return open_storage(Settings(FERRY_STORAGE="local", FERRY_DATA_DIR=str(tmp_path / "data")))
        bucket = unique_bucket()
        if backend == "s3":
            request.getfixturevalue("s3_env")
            boto3.client("s3").create_bucket(Bucket=bucket)
            return open_storage(Settings(FERRY_STORAGE=f"s3://{bucket}/pre"))
        if backend == "gcs":
            request.getfixturevalue("gcs_env")
            gcs.Client().create_bucket(bucket)
            return open_storage(Settings(FERRY_STORAGE=f"gs://{bucket}/pre"))
        raise ValueError(backend)

    return make


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, make_storage: Callable[[str], Storage]) -> Storage:
    return make_storage(backend)
