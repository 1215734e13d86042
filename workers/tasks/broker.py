"""One Redis client per broker channel instead of one per command; exchange bindings read once, not per publish.

Kombu's Redis channel builds a new ``redis.Redis`` for every publish, every ack and every update of its
unacked index (``Channel.conn_or_acquire`` in kombu/transport/redis.py). With redis-py 8 building one
costs about as much CPU as the round trip it makes; py-spy showed it at a tenth of the llm worker's CPU
for small jobs. A ``redis.Redis`` over a connection pool is thread-safe (each command checks a
connection out of the pool; pipelines are per call), so each channel keeps one and hands it out.

Kombu also reads an exchange's bindings (SMEMBERS ``_kombu.binding.<exchange>``) before every publish to a
direct exchange, which Celery's queues are: a round trip per task sent that only ever returns the same
three bindings. Each channel keeps the table for :data:`TABLE_SECONDS`, and reads it again at once when a
routing key is not in it (a queue bound since), so a new binding is never missed.
Nothing else about the transport changes: ack emulation, visibility timeout and restore work as before.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import time

import redis
from kombu.transport import redis as kombu_redis

#: How long a channel trusts the bindings it read (Ferry's queues are bound once, at start).
TABLE_SECONDS = 30.0


class SharedClientChannel(kombu_redis.Channel):  # type: ignore[misc]
    """Kombu's Redis channel, reusing one client over the channel's pool."""

    _shared: redis.Redis | None = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        if self.connection.client is None:
            # The broker connection was lost and Celery already detached the transport (Connection.collect())
            # before closing this channel, which restores its unacked messages: kombu would build a pool from
            # the missing connection info and the AttributeError kills the worker (celery 5.7.0 / kombu 5.7.0,
            # e.g. a Redis restart while countdown tasks are held). Restore through the client we keep (its pool
            # reconnects when Redis is back); without one, a connection error Celery ignores: the messages stay
            # in Redis's unacked set for the visibility timeout, and Ferry's reaper re-sends overdue steps.
            if self._shared is None:
                raise redis.ConnectionError("broker connection closed before its unacked messages were restored")
            yield self._shared
            return
        if self._shared is None or self._shared.connection_pool is not self.pool:
            self._shared = self._create_client()
        yield self._shared

    def get_table(self, exchange: str) -> list[tuple[str, str, str]]:
        tables = self.__dict__.setdefault("_tables", {})
        cached = tables.get(exchange)
        if cached is not None and time.monotonic() - cached[0] < TABLE_SECONDS:
            return cached[1]  # type: ignore[no-any-return]
        table = super().get_table(exchange)
        tables[exchange] = (time.monotonic(), table)
        return table  # type: ignore[no-any-return]

    def _lookup(self, exchange: str, routing_key: str, default: str | None = None) -> Any:
        if exchange and not any(key == routing_key for key, _, _ in self.get_table(exchange)):
            self.__dict__.get("_tables", {}).pop(exchange, None)  # bound since we read it: read it again
        return super()._lookup(exchange, routing_key, default)


def install() -> None:
    """Make kombu's Redis transport open :class:`SharedClientChannel` channels (idempotent)."""
    kombu_redis.Transport.Channel = SharedClientChannel
