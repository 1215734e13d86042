"""One settings object, read once from the environment and passed down.

No other module reads ``os.environ``: they take a :class:`Settings` (or the
value they need from it). Every variable is documented in README.md.
"""
from __future__ import annotations

import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.core import google_credentials

#: Used when FERRY_API_KEYS is unset, so a fresh checkout works with no setup.
LOCAL_API_KEY = "ferry-local-key"
LOCAL_TENANT = "local"

PROVIDER_IDS = ("openai", "anthropic", "gemini", "bedrock", "mistral", "xai", "cohere", "azure", "vertex")


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
    fetch_max_seconds: float = Field(default=600.0, alias="FERRY_FETCH_MAX_SECONDS")
    source_buckets: str | None = Field(default=None, alias="FERRY_SOURCE_BUCKETS")
    max_redirects: int = Field(default=5, alias="FERRY_MAX_REDIRECTS")
    allow_private_urls: bool = Field(default=False, alias="FERRY_ALLOW_PRIVATE_URLS")
    upstream_timeout: float = Field(default=300.0, alias="FERRY_UPSTREAM_TIMEOUT")
    job_ttl_seconds: int = Field(default=7 * 24 * 3600, alias="FERRY_JOB_TTL_SECONDS")
    max_deliveries: int = Field(default=3, alias="FERRY_MAX_DELIVERIES")
    # OpenAI-compatible API (issue 6): chat waits, Ferry files, batches, webhooks.
    chat_timeout: float = Field(default=300.0, alias="FERRY_CHAT_TIMEOUT")
    max_file_bytes: int = Field(default=200 * 1024 * 1024, alias="FERRY_MAX_FILE_BYTES")
    max_batch_lines: int = Field(default=50_000, alias="FERRY_MAX_BATCH_LINES")
    #: How often the workers poll a provider batch (issue 13), backing off x1.5 while it does not change (at most x10).
    batch_poll_seconds: float = Field(default=60.0, gt=0, alias="FERRY_BATCH_POLL_SECONDS")
    #: Bedrock batch inference (workers/providers/batch_api/bedrock.py): the service role its jobs run as
    #: (required to create one), and where their JSONL goes (default: the s3:// staging target + /ferry-batches).
    bedrock_batch_role_arn: str | None = Field(default=None, alias="FERRY_BEDROCK_BATCH_ROLE_ARN")
    bedrock_batch_s3_uri: str | None = Field(default=None, alias="FERRY_BEDROCK_BATCH_S3_URI")
    webhook_timeout: float = Field(default=10.0, alias="FERRY_WEBHOOK_TIMEOUT")
    webhook_max_attempts: int = Field(default=50, alias="FERRY_WEBHOOK_MAX_ATTEMPTS")
    webhook_retry_base: float = Field(default=2.0, alias="FERRY_WEBHOOK_RETRY_BASE")
    webhook_retry_max: float = Field(default=600.0, alias="FERRY_WEBHOOK_RETRY_MAX")
    # -- issue 7: idempotency, retries, crash recovery (workers/state/idempotency.py, workers/tasks/reaper.py)
    idempotency_ttl: int = Field(default=24 * 3600, alias="FERRY_IDEMPOTENCY_TTL")
    retry_after_max: float = Field(default=60.0, alias="FERRY_RETRY_AFTER_MAX")
    reaper_interval: float = Field(default=10.0, alias="FERRY_REAPER_INTERVAL")
    lease_seconds: float = Field(default=15.0, alias="FERRY_LEASE_SECONDS")
    # Names this worker host in step leases; a lease of another host is trusted until its TTL runs out.
    hostname: str = Field(default="", alias="FERRY_HOSTNAME")
    queue_deadline: float = Field(default=300.0, alias="FERRY_QUEUE_DEADLINE")
    # -- issue 11: small work takes few hops (workers/pipeline/routing.py)
    #: An image source up to this many bytes and FERRY_LIGHT_PIXELS is "light": its steps run in one task.
    light_bytes: int = Field(default=1 << 20, alias="FERRY_LIGHT_BYTES")
    light_pixels: int = Field(default=4_000_000, alias="FERRY_LIGHT_PIXELS")
    #: "auto": workers consuming only the cpu/llm queues skip kombu's ack emulation; "on": every worker keeps it.
    broker_ack_emulation: Literal["auto", "on"] = Field(default="auto", alias="FERRY_BROKER_ACK_EMULATION")
    reaper_max_requeues: int = Field(default=3, alias="FERRY_REAPER_MAX_REQUEUES")
    #: Test hook only: "stage:seconds[,stage:seconds]" sleeps inside that stage (crash-safety tests).
    test_stage_delay: str | None = Field(default=None, alias="FERRY_TEST_STAGE_DELAY")
    staging: str | None = Field(default=None, alias="FERRY_STAGING")
    url_cache_seconds: int = Field(default=300, alias="FERRY_URL_CACHE_SECONDS")
    presign_seconds: int = Field(default=3600, alias="FERRY_PRESIGN_SECONDS")
    #: A native batch line's Files-API ids and presigned URLs must outlive the provider's batch window by this much.
    batch_ref_margin_seconds: int = Field(default=3600, ge=0, alias="FERRY_BATCH_REF_MARGIN_SECONDS")
    # -- issue 16: the browser UI at /ui/ (app/ui/session.py)
    #: Signs the UI's session cookie; unset: a random secret kept in FERRY_DATA_DIR/ui-secret (one machine).
    ui_secret: str | None = Field(default=None, alias="FERRY_UI_SECRET")
    ui_session_seconds: int = Field(default=12 * 3600, alias="FERRY_UI_SESSION_SECONDS")
    ui_secure_cookie: bool = Field(default=False, alias="FERRY_UI_SECURE_COOKIE")
    # -- issue 15: pdf_strategy "ocr" reads PDF pages with a provider's OCR endpoint (workers/pipeline/ocr.py)
    ocr_provider: str | None = Field(default=None, alias="FERRY_OCR_PROVIDER")
    """``mistral`` (POST /v1/ocr with MISTRAL_API_KEY); unset: pdf_strategy=ocr is refused as not configured."""
    ocr_model: str = Field(default="mistral-ocr-latest", alias="FERRY_OCR_MODEL")

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
    aws_region: str | None = Field(default=None, alias="AWS_REGION")
    """Bedrock's region when set (botocore itself reads only AWS_DEFAULT_REGION)."""
    aws_default_region: str | None = Field(default=None, alias="AWS_DEFAULT_REGION")
    endpoints_spec: str | None = Field(default=None, alias="FERRY_ENDPOINTS")
    """``name=base_url,...``: OpenAI-compatible servers as providers (workers/providers/endpoints.py)."""
    # -- issue 12: Azure OpenAI (as openai-python's AzureOpenAI reads them) and Vertex AI
    azure_openai_endpoint: str | None = Field(default=None, alias="AZURE_OPENAI_ENDPOINT")
    azure_openai_api_key: str | None = Field(default=None, alias="AZURE_OPENAI_API_KEY")
    openai_api_version: str = Field(default="2024-10-21", alias="OPENAI_API_VERSION")
    """Azure's ``api-version`` query parameter (the SDK requires it; Ferry defaults to the GA 2024-10-21)."""
    google_cloud_project: str | None = Field(default=None, alias="GOOGLE_CLOUD_PROJECT")
    vertex_location: str = Field(default="us-central1", alias="VERTEX_LOCATION")
    vertex_base_url: str | None = Field(default=None, alias="VERTEX_BASE_URL")
    vertex_access_token: str | None = Field(default=None, alias="VERTEX_ACCESS_TOKEN")
    """A fixed bearer token (tests, local use, a proxy); unset: Application Default Credentials via google-auth."""

    #: boto3's credentials object, resolved once per Settings (see :meth:`_aws_credentials`).
    _aws_creds: Any = PrivateAttr(default=None)
    _aws_resolved: bool = PrivateAttr(default=False)

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

    def source_bucket_list(self) -> list[str]:
        """``s3://bucket[/prefix]`` / ``gs://…`` prefixes that s3:// and gs:// sources may name."""
        return [p.strip() for p in (self.source_buckets or "").split(",") if p.strip()]

    def endpoints(self) -> dict[str, str]:
        """FERRY_ENDPOINTS as {name: base_url}."""
        out: dict[str, str] = {}
        for item in (self.endpoints_spec or "").split(","):
            name, sep, url = item.strip().partition("=")
            if not item.strip():
                continue
            if not sep or not name.strip() or not url.strip():
                raise ValueError(f"FERRY_ENDPOINTS entry {item!r} is not name=base_url")
            out[name.strip()] = url.strip()
        return out

    def endpoint_env(self, name: str) -> dict[str, Any]:
        """Per-endpoint overrides from ``<NAME>_IMAGE_FORMATS`` (comma-separated MIME types),
        ``<NAME>_IMAGE_LONG_EDGE``, ``<NAME>_REQUEST_MAX_BYTES`` and ``<NAME>_PDF`` (native|text)."""
        prefix = _env_prefix(name)
        raw = {k: os.environ.get(f"{prefix}_{k.upper()}") for k in
               ("image_formats", "image_long_edge", "request_max_bytes", "pdf")}
        out: dict[str, Any] = {k: v.strip() for k, v in raw.items() if v and v.strip()}
        if "image_formats" in out:
            out["image_formats"] = [f.strip() for f in out["image_formats"].split(",") if f.strip()]
        return out

    def provider_key(self, provider: str) -> str | None:
        if provider in self.endpoints():
            return os.environ.get(f"{_env_prefix(provider)}_API_KEY") or None
        if provider == "bedrock":
            return self._aws_credentials()  # boto3 resolves AWS credentials itself
        if provider == "azure":
            return self.azure_openai_api_key if self.azure_openai_endpoint else None
        if provider == "vertex":
            if not self.vertex_project():
                return None
            return self.vertex_access_token or google_credentials.access_token()
        return getattr(self, f"{provider}_api_key", None)

    def credential_hint(self, provider: str) -> str:
        """What to set so that ``provider`` has credentials (named in the 422 of a submit without them)."""
        return {"azure": "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY",
                "vertex": "GOOGLE_CLOUD_PROJECT and Application Default Credentials (or VERTEX_ACCESS_TOKEN)",
                "bedrock": "AWS credentials (AWS_ACCESS_KEY_ID, a profile or a role)"}.get(
            provider, f"{_env_prefix(provider)}_API_KEY")

    def vertex_project(self) -> str | None:
        """GOOGLE_CLOUD_PROJECT, else the project of the Application Default Credentials."""
        if self.google_cloud_project:
            return self.google_cloud_project
        return None if self.vertex_access_token else google_credentials.project()

    def staging_uris(self) -> list[str]:
        """Where outputs are staged for URL / s3:// / gs:// delivery: FERRY_STAGING, else cloud FERRY_STORAGE."""
        if self.staging:
            return [u.strip() for u in self.staging.split(",") if u.strip()]
        return [self.storage] if self.storage.startswith(("s3://", "gs://")) else []

    def bedrock_batch_uri(self) -> str | None:
        """Where Bedrock batch inference jobs read and write their JSONL: FERRY_BEDROCK_BATCH_S3_URI, else
        ``ferry-batches`` under the first s3:// staging target (the bucket s3Location media is staged to)."""
        if self.bedrock_batch_s3_uri:
            return self.bedrock_batch_s3_uri.rstrip("/")
        s3 = [u for u in self.staging_uris() if u.startswith("s3://")]
        return s3[0].rstrip("/") + "/ferry-batches" if s3 else None

    def bedrock_region(self) -> str:
        """The region Bedrock is called in (AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1): it decides
        which inference profiles a job may name and which one a profile-only model is sent through."""
        return self.aws_region or self.aws_default_region or "us-east-1"

    def provider_base_url(self, provider: str) -> str | None:
        if provider in self.endpoints():
            return self.endpoints()[provider]
        if provider == "azure":
            return self.azure_openai_endpoint
        if provider == "vertex":
            return self.vertex_resource_url()
        return getattr(self, f"{provider}_base_url", None)

    def vertex_resource_url(self) -> str | None:
        """``{base}/v1/projects/{project}/locations/{location}``: base from VERTEX_BASE_URL, else the location's
        host (``global``: aiplatform.googleapis.com; ``us``/``eu``: aiplatform.<l>.rep.googleapis.com; else
        <l>-aiplatform.googleapis.com, as python-genai and anthropic-sdk-python's Vertex client build it)."""
        project = self.vertex_project()
        if not project:
            return None
        loc = self.vertex_location
        host = {"global": "aiplatform.googleapis.com", "us": "aiplatform.us.rep.googleapis.com",
                "eu": "aiplatform.eu.rep.googleapis.com"}.get(loc, f"{loc}-aiplatform.googleapis.com")
        base = (self.vertex_base_url or f"https://{host}").rstrip("/")
        return f"{base}/v1/projects/{project}/locations/{loc}"

    def _aws_credentials(self) -> str | None:
        """``"aws:<access key id>"`` when boto3 finds credentials (env, profile, role), else None.

        The web tier asks at every submit, so the boto3 session and its credential chain are built
        once per Settings, not per call. The credentials *object* is kept, not a frozen key: for an
        instance role or SSO it is botocore's refreshable kind, and reading ``access_key`` refreshes
        it when it nears expiry. Callers only use the value as "there are credentials" (a Bedrock
        submit without them is refused); the Bedrock client (:func:`workers.providers.bedrock._client`)
        resolves its own credentials for the call.
        """
        if not self._aws_resolved:
            with _AWS_LOCK:
                if not self._aws_resolved:
                    import boto3

                    self._aws_creds = boto3.session.Session().get_credentials()
                    self._aws_resolved = True
        creds = self._aws_creds
        return f"aws:{creds.access_key}" if creds is not None else None


_AWS_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def _env_prefix(endpoint: str) -> str:
    """``my-vllm`` -> ``MY_VLLM`` (the prefix of its environment variables)."""
    return re.sub(r"[^A-Z0-9]", "_", endpoint.upper())
