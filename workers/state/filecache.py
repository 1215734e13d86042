"""Provider file ids, cached by (provider, account, sha256 of the delivered bytes).

``account`` is the sha256 of the API key (never the key itself), so two keys never share uploads
they cannot see. An entry lives until the provider's expiry minus a margin, and is checked against
that expiry on every read, so an expired id is never handed out even if Redis kept it. A reader that
needs the id to live longer (a native batch line, read by its provider up to a batch window later)
passes its own ``margin``: a shorter-lived entry is then a miss for it, and stays for the others. A stale id
(the provider says the file is gone) is forgotten and re-uploaded by the caller.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from workers.core import keys

#: Never use an id this close to its expiry: a job may take this long from upload to completion.
MARGIN_SECONDS = 3600


@dataclass
class FileEntry:
    id: str
    expires_at: float
    uploaded_at: float


def account_of(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


class FileCache:
    def __init__(self, r: redis.Redis, margin: int = MARGIN_SECONDS) -> None:
        self.r = r
        self.margin = margin

    @staticmethod
    def key(provider: str, account: str, sha256: str) -> str:
        return keys.file_id_cache(provider, account, sha256)

    def get(self, provider: str, account: str, sha256: str, margin: int | None = None) -> FileEntry | None:
        """The cached id if it lives ``margin`` (default: the cache's) seconds more; a miss otherwise."""
        raw = self.r.get(self.key(provider, account, sha256))
        if raw is None:
            return None
        entry = FileEntry(**json.loads(raw))
        now = time.time()
        if entry.expires_at - self.margin <= now:
            self.forget(provider, account, sha256)
            return None
        if margin is not None and entry.expires_at - margin <= now:
            return None  # too short-lived for this reader; still good for the others
        return entry

    def put(self, provider: str, account: str, sha256: str, file_id: str, expires_at: float) -> FileEntry | None:
        """Remember an upload; an id already too close to expiry is not kept (returns None)."""
        entry = FileEntry(file_id, expires_at, time.time())
        ttl = int(expires_at - self.margin - time.time())
        if ttl <= 0:
            return None
        self.r.set(self.key(provider, account, sha256), json.dumps(asdict(entry)), ex=ttl)
        return entry

    def forget(self, provider: str, account: str, sha256: str) -> None:
        self.r.delete(self.key(provider, account, sha256))

    def entries(self, provider: str) -> list[dict[str, Any]]:
        """Every cached entry of a provider (tests and operators)."""
        out = []
        for k in self.r.scan_iter(match=keys.file_id_cache_pattern(provider)):
            raw = self.r.get(k)
            if raw is not None:
                out.append({"key": k.decode(), **json.loads(raw)})
        return out
