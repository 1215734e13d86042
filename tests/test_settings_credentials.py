"""``Settings.provider_key("bedrock")``: boto3's credential chain is resolved once per Settings, not per call.

The web tier asks at every submit. Sessions are counted through a real subclass of
``boto3.session.Session`` put in its place (a vendor class, not Ferry's code); the credentials come
from boto3's own sources (environment variables, a ``credential_process`` profile), never from IMDS.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import boto3.session
import pytest

from workers.core.settings import Settings

AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN")


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """Every boto3 Session built while the test runs; AWS credential sources limited to what the test sets."""
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    built: list[Any] = []

    class CountingSession(boto3.session.Session):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(boto3.session, "Session", CountingSession)
    return built


def test_repeated_calls_build_one_session(sessions: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFERRYTEST0000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    settings = Settings()
    keys = [settings.provider_key("bedrock") for _ in range(200)]
    assert set(keys) == {"aws:AKIAFERRYTEST0000001"}
    assert len(sessions) == 1


def test_concurrent_first_calls_build_one_session(sessions: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFERRYTEST0000002")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    settings = Settings()
    start = threading.Barrier(16)
    got: list[str | None] = []

    def ask() -> None:
        start.wait()
        for _ in range(20):
            got.append(settings.provider_key("bedrock"))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "provider_key threads still running after 60 s"
    assert len(got) == 16 * 20 and set(got) == {"aws:AKIAFERRYTEST0000002"}
    assert len(sessions) == 1


def test_no_credentials_is_none_and_asked_once(sessions: list[Any]) -> None:
    settings = Settings()
    assert [settings.provider_key("bedrock") for _ in range(50)] == [None] * 50
    assert len(sessions) == 1


def test_each_settings_resolves_its_own(sessions: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFERRYTEST0000003")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    first = Settings()
    assert first.provider_key("bedrock") == "aws:AKIAFERRYTEST0000003"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFERRYTEST0000004")
    second = Settings()
    assert second.provider_key("bedrock") == "aws:AKIAFERRYTEST0000004"
    assert first.provider_key("bedrock") == "aws:AKIAFERRYTEST0000003"  # read once from the environment
    assert len(sessions) == 2


CREDENTIAL_PROCESS = """\
import datetime, json, pathlib, sys
counter = pathlib.Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
print(json.dumps({"Version": 1, "AccessKeyId": f"AKIAROTATED{n:09d}", "SecretAccessKey": "s",
                  "SessionToken": "t", "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}))
"""


def test_rotating_credentials_are_seen_without_a_new_session(sessions: list[Any], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that expire (an instance role, SSO, ``credential_process``) stay refreshable: the key
    is re-read from botocore's credentials object, not frozen at the first call. These expire within
    botocore's 10-minute mandatory-refresh window, so every read refreshes them."""
    script = tmp_path / "creds.py"
    script.write_text(CREDENTIAL_PROCESS)
    counter = tmp_path / "calls"
    config = tmp_path / "config"
    config.write_text(f"[profile rotating]\ncredential_process = {sys.executable} {script} {counter}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "rotating")
    settings = Settings()
    keys = [settings.provider_key("bedrock") for _ in range(3)]
    assert all(k is not None and k.startswith("aws:AKIAROTATED") for k in keys), keys
    assert len(set(keys)) == 3, keys  # each read saw the rotated key
    assert int(counter.read_text()) >= 3
    assert len(sessions) == 1
