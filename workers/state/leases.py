"""Crash safety's records: step leases with heartbeats, a deadline per pending step, the reaper's pass lock.

Celery on Redis redelivers a task whose *pool child* died (``task_reject_on_worker_lost``), but a
task whose worker *main process* died, or whose message was lost (Redis restarted without it),
comes back only after ``visibility_timeout`` (900 s) or never. So every step a job still expects
is tracked in Redis, and the reaper (workers/tasks/reaper.py) re-sends steps that stopped making progress:

``ferry:running`` (sorted set, :data:`workers.core.keys.RUNNING`)
    member ``<job id>|<step>`` (``fetch:0`` … ``deliver:0``, ``complete``, ``notify``, ``webhook``), score =
    the deadline (unix seconds). Enqueueing adds the first steps; a finished step is replaced by
    the next one (:func:`settle`); a running step's deadline is pushed forward by its heartbeat; a job
    that ends expects ``notify`` in the same script that ends it (workers/state/jobs.py).
    A queued step must start within ``FERRY_QUEUE_DEADLINE`` (300 s), a running step must
    heartbeat within ``FERRY_LEASE_SECONDS`` (15 s).

``ferry:job:<id>:lease:<step>`` (string, TTL ``FERRY_LEASE_SECONDS``)
    ``host:pid:token`` of the process running the step, renewed every third of the TTL by a
    heartbeat thread. A second delivery of the same step while the holder lives is dropped (the
    holder carries the chain on); if the holder is dead — same host and its pid is gone, or the
    lease expired — the new delivery takes over at once.

Test hook: ``FERRY_TEST_STAGE_DELAY="transform:3,notify:5"`` sleeps that long inside the stage,
after its lease is taken, so a test can kill the worker mid-stage. Unset in production.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

import redis

from workers.core import keys
from workers.core.keys import REQUEUES, RUNNING
from workers.core.settings import Settings, get_settings
from workers.state.handles import Handles

log = logging.getLogger("ferry.leases")

HOST = get_settings().hostname or socket.gethostname()  # FERRY_HOSTNAME: one name per worker host


# KEYS[1] lease; ARGV[1] our value, ARGV[2] ttl ms. Renew only our own lease.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS[1] lease; ARGV[1] our value.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] lease; ARGV[1] the dead holder's value, ARGV[2] ours, ARGV[3] ttl ms. Take over a dead lease.
_TAKEOVER = """
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]); return 1
end
return 0
"""


member = keys.running_member


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- deadlines --------------------------------------------------------------------

def expect(r: redis.Redis | redis.client.Pipeline, job_id: str, steps: Iterable[str], within: float) -> None:
    """These steps of the job must start (or heartbeat) within ``within`` seconds."""
    deadline = time.time() + within
    mapping = {member(job_id, s): deadline for s in steps}
    if mapping:
        r.zadd(RUNNING, mapping)


def settle(r: redis.Redis, job_id: str, step: str, next_steps: Iterable[str] = (), within: float = 300.0) -> None:
    """``step`` is over: stop tracking it and expect ``next_steps`` instead."""
    pipe = r.pipeline()
    pipe.zrem(RUNNING, member(job_id, step))
    pipe.hdel(REQUEUES, member(job_id, step))
    nxt = {member(job_id, s): time.time() + within for s in next_steps}
    if nxt:
        pipe.zadd(RUNNING, nxt)
    pipe.execute()


# -- leases -------------------------------------------------------------------------

def pid_alive(pid: int) -> bool:
    """Is ``pid`` a live (non-zombie) process on this host?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def holder_alive(value: str | None) -> bool:
    """A lease value ``host:pid:token``: alive unless it is on this host and the pid is gone."""
    if not value:
        return False
    parts = value.rsplit(":", 2)
    if len(parts) != 3:
        return True
    host, pid = parts[0], parts[1]
    if host != HOST:
        return True  # another machine: trust the TTL
    try:
        return pid_alive(int(pid))
    except ValueError:
        return True


lease_key = keys.lease


class Renewable(Protocol):
    """What the heartbeat renews: a lease, or a reservation of a received step."""

    ttl: float

    def renew(self) -> None: ...


class Heartbeat:
    """One thread per process renews every lease the process holds, each every third of its TTL
    (a thread per step cost more than a small step itself). Restarted in a forked child."""

    def __init__(self) -> None:
        self._held: dict[int, tuple[Renewable, float]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = 0
        self._wakes_at = 0.0  # when the thread next wakes by itself (monotonic)

    def add(self, lease: Renewable, first_in: float | None = None) -> None:
        """Renew ``lease`` every third of its TTL; the first time after ``first_in`` seconds if given."""
        due = time.monotonic() + (lease.ttl / 3 if first_in is None else first_in)
        with self._lock:
            self._held[id(lease)] = (lease, due)
            if self._pid != os.getpid():  # first lease here, or a forked child without the parent's thread
                self._pid = os.getpid()
                self._held = {id(lease): self._held[id(lease)]}
                self._wakes_at = 0.0
                threading.Thread(target=self._run, name="lease-heartbeat", daemon=True).start()
            early = due < self._wakes_at  # due before the thread would wake: wake it (else let it sleep)
        if early:
            self._wake.set()

    def remove(self, lease: Renewable) -> None:
        with self._lock:
            self._held.pop(id(lease), None)

    def _run(self) -> None:
        while True:
            with self._lock:
                due = [lease for lease, at in self._held.values() if at <= time.monotonic()]
            for lease in due:
                lease.renew()
                with self._lock:
                    if id(lease) in self._held:
                        self._held[id(lease)] = (lease, time.monotonic() + lease.ttl / 3)
            with self._lock:  # next wake and the time add() compares with, under one lock: none is missed
                now = time.monotonic()
                next_at = min((at for _, at in self._held.values()), default=now + 1.0)
                pause = max(0.02, min(1.0, next_at - now))
                self._wakes_at = now + pause
            self._wake.wait(pause)
            self._wake.clear()


HEARTBEAT = Heartbeat()


class Lease:
    """The right to run one step of one job, kept alive by the process's heartbeat thread while held."""

    def __init__(self, r: redis.Redis, job_id: str, step: str, ttl: float) -> None:
        self.r, self.job_id, self.step, self.ttl = r, job_id, step, max(ttl, 1.0)
        self.key = lease_key(job_id, step)
        self.value = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"

    def take_over(self, held: str | None) -> Lease | None:
        """Take the lease from ``held`` if that holder is dead (or gone); None while it lives."""
        if held is not None and holder_alive(held):
            return None
        if self.r.eval(_TAKEOVER, 1, self.key, held or "", self.value, int(self.ttl * 1000)) == 1:
            log.warning("job %s: took over %s from dead holder %s", self.job_id, self.step, held)
            return self
        return None

    def renew(self) -> None:
        try:
            if self.r.eval(_RENEW, 1, self.key, self.value, int(self.ttl * 1000)) == 1:
                self.r.zadd(RUNNING, {member(self.job_id, self.step): time.time() + self.ttl}, xx=True)
        except redis.RedisError:  # keep beating; the TTL decides if we were away too long
            log.warning("job %s: heartbeat for %s failed", self.job_id, self.step, exc_info=True)

    def beat(self) -> Lease:
        """Start heartbeating (the step is already tracked as running)."""
        HEARTBEAT.add(self)
        return self

    def stop(self) -> None:
        """Stop heartbeating without releasing (the step's end script releases it)."""
        HEARTBEAT.remove(self)

    def release(self) -> None:
        self.stop()
        try:
            self.r.eval(_RELEASE, 1, self.key, self.value)
        except redis.RedisError:
            log.warning("job %s: could not release %s", self.job_id, self.step, exc_info=True)


# KEYS: lease, steps set, done key, running zset; ARGV: step, running member, deadline.
# 0 once the step began (its lease exists), finished, or is no longer expected; else its deadline is pushed.
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1
   or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
return redis.call('ZADD', KEYS[4], 'XX', 'CH', ARGV[3], ARGV[2])
"""


class Reservation:
    """A step whose message this process received but has not begun (prefetched, or between receipt and
    its begin script): its deadline is kept a lease TTL ahead by the heartbeat thread, so if this host
    dies the reaper re-sends it within a TTL, not after the queue deadline. It stops by itself once the
    step's lease exists (the step began, here or anywhere), the step is done, or ``until`` passes.

    Most received steps begin within a millisecond, so the first push waits :data:`RESERVE_AFTER` and a
    step that begins in this process first cancels it locally (:meth:`begun`): no Redis call at all. A
    host killed inside that first tenth of a second is recovered by the step's queue deadline instead."""

    RESERVE_AFTER = 0.1
    _waiting: ClassVar[dict[tuple[str, str], Reservation]] = {}
    _lock = threading.Lock()

    def __init__(self, r: redis.Redis, job_id: str, step: str, ttl: float, until: float) -> None:
        self.r, self.job_id, self.step, self.ttl = r, job_id, step, max(ttl, 1.0)
        self.until = time.monotonic() + until

    def start(self) -> None:
        with Reservation._lock:
            Reservation._waiting[(self.job_id, self.step)] = self
        HEARTBEAT.add(self, first_in=self.RESERVE_AFTER)

    @classmethod
    def begun(cls, job_id: str, step: str) -> None:
        """The step is beginning in this process: its lease takes over from the reservation."""
        with cls._lock:
            found = cls._waiting.pop((job_id, step), None)
        if found is not None:
            HEARTBEAT.remove(found)

    def renew(self) -> None:
        if time.monotonic() > self.until or not self._push():
            with Reservation._lock:
                if Reservation._waiting.get((self.job_id, self.step)) is self:
                    del Reservation._waiting[(self.job_id, self.step)]
            HEARTBEAT.remove(self)

    def _push(self) -> bool:
        try:
            return bool(_reserve_script(self.r)(
                keys=[lease_key(self.job_id, self.step), keys.job_steps(self.job_id),
                      keys.step_done(self.job_id, self.step), RUNNING],
                args=[self.step, member(self.job_id, self.step), time.time() + self.ttl]))
        except redis.RedisError:
            log.warning("job %s: could not reserve %s", self.job_id, self.step, exc_info=True)
            return False


_scripts: weakref.WeakKeyDictionary[redis.Redis, Any] = weakref.WeakKeyDictionary()


def _reserve_script(r: redis.Redis) -> Any:
    """One registered script per client (EVALSHA: the script's text is not sent every time)."""
    script = _scripts.get(r)
    if script is None:
        script = _scripts[r] = r.register_script(_RESERVE)
    return script


@contextmanager
def tracked(ctx: Handles, job_id: str, step: str, next_steps: Iterable[str] = ()) -> Iterator[bool]:
    """For steps outside the stage runner (``notify``, ``webhook``): yields False when the step already ran or a
    live worker holds it; otherwise runs it under a lease and settles it on success. Two round trips: one
    script begins it (done? held? else lease and deadline), one ends it (done, next, release)."""
    ledger = ctx.ledger
    lease = Lease(ctx.redis, job_id, step, ctx.settings.lease_seconds)
    begun = ledger.track_begin(job_id, step, lease_value=lease.value, lease_seconds=lease.ttl)
    if begun.outcome == "done":
        yield False
        return
    if begun.outcome == "held":
        if lease.take_over(begun.holder) is None:
            yield False
            return
        ctx.redis.zadd(RUNNING, {member(job_id, step): time.time() + lease.ttl})
    lease.beat()
    try:
        hold(ctx.settings, step)
        yield True
    except BaseException:
        lease.release()  # its deadline stays: the reaper re-sends the step
        raise
    lease.stop()
    deadline = time.time() + ctx.settings.queue_deadline
    ledger.track_end(job_id, step, lease.value, {s: deadline for s in next_steps})


def is_done(r: redis.Redis, job_id: str, step: str) -> bool:
    """Pipeline steps are done once in the job's ``steps`` set; tracked() steps have a done key."""
    return bool(r.sismember(keys.job_steps(job_id), step) or r.exists(keys.step_done(job_id, step)))


def hold(settings: Settings, stage: str) -> None:
    """FERRY_TEST_STAGE_DELAY test hook (see the module docstring); a no-op when unset."""
    if not settings.test_stage_delay:
        return
    for item in settings.test_stage_delay.split(","):
        name, _, seconds = item.partition(":")
        if name.strip() == stage:
            time.sleep(float(seconds or 0))


class PassLock:
    """The one reaper pass running anywhere: ``SET NX`` with a token, renewed by a heartbeat for as long
    as the pass runs, released (compare-and-delete) when it ends. A pass that lost its lock (Redis was
    away longer than the TTL) notices at its next step and stops, so two passes never overlap."""

    def __init__(self, r: redis.Redis, ttl: float, key: str = keys.REAPER_LOCK) -> None:
        self.r, self.key, self.ttl = r, key, max(ttl, 0.3)
        self.value = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.r.set(self.key, self.value, nx=True, px=int(self.ttl * 1000)):
            return False
        self._thread = threading.Thread(target=self._beat, name="reaper-lock", daemon=True)
        self._thread.start()
        return True

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if self.r.eval(_RENEW, 1, self.key, self.value, int(self.ttl * 1000)) != 1:
                    self._lost.set()
                    return
            except redis.RedisError:
                log.warning("reaper: could not renew its lock", exc_info=True)

    @property
    def held(self) -> bool:
        return not self._lost.is_set()

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.r.eval(_RELEASE, 1, self.key, self.value)
        except redis.RedisError:
            log.warning("reaper: could not release its lock", exc_info=True)
