"""One Redis client per broker channel instead of one per command.

Kombu's Redis channel builds a new ``redis.Redis`` for every publish, every ack and every update of its
unacked index (``Channel.conn_or_acquire`` in kombu/transport/redis.py). With redis-py 8 building one
costs about as much CPU as the round trip it makes; py-spy showed it at a tenth of the llm worker's CPU
for small jobs. A ``redis.Redis`` over a connection pool is thread-safe (each command checks a
connection out of the pool; pipelines are per call), so each channel keeps one and hands it out.
Nothing else about the transport changes: ack emulation, visibility timeout and restore work as before.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from kombu.transport import redis as kombu_redis


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


def install() -> None:
    """Make kombu's Redis transport open :class:`SharedClientChannel` channels (idempotent)."""
    kombu_redis.Transport.Channel = SharedClientChannel
