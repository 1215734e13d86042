"""The shapes Ferry stores and answers, as typed records.

They are ``TypedDict``s: the job record in Redis and the API's JSON are these very dicts, so a record
round-trips through JSON unchanged and old records stay readable, while code and type checkers see
every field by name. ``total=False``: most fields appear as the stages fill them in.
"""
from __future__ import annotations

from typing import Any, Literal, TypedDict

SourceKind = Literal["url", "data", "file_id", "s3", "gs", "youtube"]
MediaKind = Literal["image", "document", "audio", "video", "text"]
Method = Literal["inline", "url", "file", "storage", "youtube"]


class Source(TypedDict, total=False):
    """Where a resource came from and what its bytes are."""

    kind: SourceKind
    url: str
    sha256: str
    bytes: int
    mime: str
    declared_mime: str
    declared_format: str
    filename: str
    content_type: str | None
    final_url: str
    sniffed_at_submit: str | None


class Step(TypedDict, total=False):
    """One planned transform: ``op`` and its arguments, with the reason shown to the user."""

    op: str
    reason: str


class Output(TypedDict, total=False):
    """One thing a resource became: a blob (image, document, audio, video) or a text part."""

    kind: MediaKind
    mime: str | None
    sha256: str | None
    bytes: int
    text: str
    width: int
    height: int
    est_tokens: int
    page: int
    pages: int
    seconds: float
    timestamp_s: float
    youtube: bool
    url: str
    passthrough: bool
    """A cloud source the provider reads itself (``url`` is its gs:// URI; no sha256)."""


class Decision(TypedDict, total=False):
    """How an output reaches the provider; several outputs give ``parts``."""

    method: Method
    ref: str | None
    cached: bool
    reason: str
    parts: list[Decision]


class Resource(TypedDict, total=False):
    """One media part of a request, as it moves through fetch → inspect → plan → transform → deliver."""

    part: str
    type: str
    detail: str
    source: Source
    facts: dict[str, Any]
    notes: list[str]
    transforms: list[Step]
    outputs: list[Output]
    delivery: Decision
    preview: dict[str, Any]
    """A PDF's first page as a small JPEG ({sha256, mime, width, height}) for the browser UI; not sent."""


class JobRecord(TypedDict, total=False):
    """The immutable part of a job, written once before anything is enqueued."""

    id: str
    tenant: str
    model: str
    request: dict[str, Any]
    dry_run: bool
    metadata: dict[str, Any]
    delivery: dict[str, Any]
    options: dict[str, Any]
    webhook: dict[str, Any] | None
    total_steps: int
    n_resources: int
    """How many resources the job has (also the hash's ``n_resources``; older records lack it)."""
    submitted_at: float
    batch: dict[str, Any]
    model_resolution: dict[str, Any]
    """How a name outside the catalog (or a Bedrock profile) was resolved: workers/providers/catalog.py."""
