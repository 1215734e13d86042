"""One settings object, read once from the environment and passed down.

No other module reads ``os.environ``: they take a :class:`Settings` (or the
value they need from it). Every variable is documented in README.md.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Used when FERRY_API_KEYS is unset, so a fresh checkout works with no setup.
LOCAL_API_KEY = "ferry-local-key"
LOCAL_TENANT = "local"

PROVIDER_IDS = ("openai", "anthropic", "gemini", "bedrock", "mistral", "xai", "cohere")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    data_dir: Path = Field(default=Path(".ferry"), alias="FERRY_DATA_DIR")
    storage: str = Field(default="local", alias="FERRY_STORAGE")
    api_keys: str | None = Field(default=None, alias="FERRY_API_KEYS")
    webhook_secret: str | None = Field(default=None, alias="FERRY_WEBHOOK_SECRET")

    max_download_bytes: int = Field(default=100 * 1024 * 1024, alias="FERRY_MAX_DOWNLOAD_BYTES")
    max_inline_bytes: int = Field(default=64 * 1024 * 1024, alias="FERRY_MAX_INLINE_BYTES")
    max_request_bytes: int = Field(default=96 * 1024 * 1024, alias="FERRY_MAX_REQUEST_BYTES")
    max_resources: int = Field(default=64, alias="FERRY_MAX_RESOURCES")
    fetch_timeout: float = Field(default=30.0, alias="FERRY_FETCH_TIMEOUT")
    max_redirects: int = Field(default=5, alias="FERRY_MAX_REDIRECTS")
    allow_private_urls: bool = Field(default=False, alias="FERRY_ALLOW_PRIVATE_URLS")
    upstream_timeout: float = Field(default=300.0, alias="FERRY_UPSTREAM_TIMEOUT")
    job_ttl_seconds: int = Field(default=7 * 24 * 3600, alias="FERRY_JOB_TTL_SECONDS")
    max_deliveries: int = Field(default=3, alias="FERRY_MAX_DELIVERIES")

    openai_api_key: str | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    anthropic_api_key: str | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, alias="ANTHROPIC_BASE_URL")
    gemini_api_key: str | None = Field(default=None, alias="GEMINI_API_KEY")
    gemini_base_url: str | None = Field(default=None, alias="GEMINI_BASE_URL")
    mistral_api_key: str | None = Field(default=None, alias="MISTRAL_API_KEY")
    mistral_base_url: str | None = Field(default=None, alias="MISTRAL_BASE_URL")
    xai_api_key: str | None = Field(default=None, alias="XAI_API_KEY")
    xai_base_url: str | None = Field(default=None, alias="XAI_BASE_URL")
    cohere_api_key: str | None = Field(default=None, alias="COHERE_API_KEY")
    cohere_base_url: str | None = Field(default=None, alias="COHERE_BASE_URL")

    def tenant_keys(self) -> dict[str, str]:
        """Bearer key -> tenant, from ``key=tenant,key2=tenant2`` (or the local default)."""
        if not self.api_keys:
            return {LOCAL_API_KEY: LOCAL_TENANT}
        pairs: dict[str, str] = {}
        for item in self.api_keys.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, tenant = item.partition("=")
            if not sep or not key.strip() or not tenant.strip():
                raise ValueError(f"FERRY_API_KEYS entry {item!r} is not key=tenant")
            pairs[key.strip()] = tenant.strip()
        return pairs

    def provider_key(self, provider: str) -> str | None:
        return getattr(self, f"{provider}_api_key", None)

    def provider_base_url(self, provider: str) -> str | None:
        return getattr(self, f"{provider}_base_url", None)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
