"""Per-process handles built once from settings: Redis, job store, step ledger, storage, catalog."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import redis

from workers.core.embedded_redis import redis_url
from workers.core.settings import Settings, get_settings
from workers.providers.catalog import Catalog, get_catalog
from workers.providers.endpoints import EndpointOverride
from workers.state.jobs import JobStore
from workers.state.ledger import Ledger
from workers.storage import Storage, open_storage


@dataclass
class Context:
    settings: Settings

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(redis_url(self.settings), health_check_interval=30)

    @cached_property
    def store(self) -> JobStore:
        return JobStore(self.redis, self.settings.job_ttl_seconds, self.settings.queue_deadline,
                        self.settings.lease_seconds)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.redis, self.settings.job_ttl_seconds)

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.settings)

    @cached_property
    def catalog(self) -> Catalog:
        """The shipped catalog plus the FERRY_ENDPOINTS providers (workers/providers/endpoints.py)."""
        urls = self.settings.endpoints()
        return get_catalog().with_endpoints(
            urls, {n: EndpointOverride(**self.settings.endpoint_env(n)) for n in urls})


@lru_cache(maxsize=1)
def get_context() -> Context:
    return Context(get_settings())
