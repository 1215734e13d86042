"""Content-addressed blobs on every backend (issue 10.1): concurrent writers, and a bad blob is never served."""
from __future__ import annotations

import hashlib
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from workers.storage.blobs import blob_key, get_blob, put_blob, put_bytes, read_blob_b64
from workers.core.errors import StorageError
from workers.storage import Storage


def _corrupt_blob(storage: Storage, good: bytes, tmp_path: Path) -> str:
    """Store other bytes under ``good``'s name, as a torn write would have."""
    sha = hashlib.sha256(good).hexdigest()
    bad = tmp_path / "bad"
    bad.write_bytes(good[: len(good) // 2])
    storage.put_file(blob_key(sha), bad)
    return sha


def test_a_blob_that_does_not_hash_to_its_name_is_never_served(make_storage: Any, backend: str,
                                                              tmp_path: Path) -> None:
    storage = make_storage(backend)
    good = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64
    sha = _corrupt_blob(storage, good, tmp_path)

    with pytest.raises(StorageError, match="corrupt"):
        get_blob(storage, sha, tmp_path / "copy")
    assert not (tmp_path / "copy").exists()
    assert not storage.exists(blob_key(sha))  # deleted, so the next writer stores it again

    assert put_bytes(storage, good) == sha
    assert get_blob(storage, sha, tmp_path / "copy").read_bytes() == good

    _corrupt_blob(storage, good, tmp_path)
    with pytest.raises(StorageError, match="corrupt"):
        read_blob_b64(storage, sha)


@pytest.mark.parametrize("store", ["local", "gcs"])
def test_concurrent_put_bytes_of_one_blob(make_storage: Any, store: str, tmp_path: Path) -> None:
    """(Not on moto: its in-memory S3 answered 500 to concurrent PUTs of one key here; real S3 takes them,
    last writer wins, each PUT atomic.)"""
    storage = make_storage(store)
    data = random.Random(3).randbytes(3 * 1024 * 1024)
    with ThreadPoolExecutor(8) as pool:
        shas = list(pool.map(lambda _: put_bytes(storage, data), range(16)))
    assert set(shas) == {hashlib.sha256(data).hexdigest()}
    assert get_blob(storage, shas[0], tmp_path / "out").read_bytes() == data
    if store == "local":  # every writer renamed or removed its own temp file
        assert list(storage.root.rglob(".tmp-*")) == []
    src = tmp_path / "src"
    src.write_bytes(data)
    assert put_blob(storage, src) == shas[0]
