"""What state modules need of a process's handles, as a protocol (workers/context.py's Context has them).

State sits below the context that builds these handles, so it names only what it uses.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import redis

from workers.core.settings import Settings
from workers.storage.base import Storage

if TYPE_CHECKING:
    from workers.state.jobs import JobStore
    from workers.state.ledger import Ledger


class Handles(Protocol):
    @property
    def redis(self) -> redis.Redis: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def storage(self) -> Storage: ...

    @property
    def store(self) -> JobStore: ...

    @property
    def ledger(self) -> Ledger: ...
