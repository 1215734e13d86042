"""Helpers shared by the storage conftest and tests (kept out of conftest so it is imported once)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.services import Service


def isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, service: Service) -> None:
    """Only the service's variables count: no developer ~/.aws profile, no stray region."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name, value in service.env.items():
        monkeypatch.setenv(name, value)


def unique_bucket() -> str:
    return f"ferry-test-{uuid.uuid4().hex[:12]}"
