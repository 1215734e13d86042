"""The one error tree.

Every failure Ferry reports is a :class:`FerryError` carrying the HTTP
``status``, a machine ``type``, a human ``message`` and, where known, the
``param`` (which part of the request) and the pipeline ``stage``. Vendor
exceptions are translated where they are caught; the API and the job record
both serialise errors with :meth:`FerryError.to_dict`, giving
``{"type", "message", "param"?, "stage"?}``.

    FerryError (500 internal_error)
    ├── BadRequest            400 invalid_request_error
    ├── Unauthorized          401 authentication_error
    ├── NotFound              404 not_found_error
    ├── Conflict              409 conflict_error
    ├── TooLarge              413 too_large_error
    ├── UnsupportedMedia      415 unsupported_media_error
    ├── Unprocessable         422 unprocessable_error
    ├── FetchError            422 fetch_error      (a resource could not be downloaded)
    ├── UpstreamError         502 upstream_error   (the provider failed; keeps its status)
    └── StorageError          502 storage_error
"""
from __future__ import annotations

from typing import Any


class FerryError(Exception):
    status: int = 500
    type: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        stage: str | None = None,
        status: int | None = None,
        type: str | None = None,
        retryable: bool = False,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.stage = stage
        self.retryable = retryable
        self.upstream_status = upstream_status
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            out["param"] = self.param
        if self.stage is not None:
            out["stage"] = self.stage
        if self.upstream_status is not None:
            out["upstream_status"] = self.upstream_status
        return out

    def with_context(self, *, param: str | None = None, stage: str | None = None) -> "FerryError":
        """Fill in where the error happened, without overwriting what is already known."""
        if self.param is None:
            self.param = param
        if self.stage is None:
            self.stage = stage
        return self

    def __str__(self) -> str:
        return self.message


class BadRequest(FerryError):
    status, type = 400, "invalid_request_error"


class Unauthorized(FerryError):
    status, type = 401, "authentication_error"


class NotFound(FerryError):
    status, type = 404, "not_found_error"


class Conflict(FerryError):
    status, type = 409, "conflict_error"


class TooLarge(FerryError):
    status, type = 413, "too_large_error"


class UnsupportedMedia(FerryError):
    status, type = 415, "unsupported_media_error"


class Unprocessable(FerryError):
    status, type = 422, "unprocessable_error"


class FetchError(FerryError):
    status, type = 422, "fetch_error"


class UpstreamError(FerryError):
    status, type = 502, "upstream_error"


class StorageError(FerryError):
    status, type = 502, "storage_error"


#: HTTP status per error type, from the tree above (plus the 504 of a synchronous wait that timed out).
STATUS_BY_TYPE: dict[str, int] = {
    FerryError.type: FerryError.status,
    **{cls.type: cls.status for cls in FerryError.__subclasses__()},
    "timeout_error": 504,
}
#: Provider statuses an upstream error keeps as its own HTTP status.
PASSED_UPSTREAM = (400, 401, 403, 404, 413, 422, 429)


def http_status(error: dict[str, Any]) -> int:
    """The HTTP status a stored error (``to_dict()`` shape) stands for; an upstream 4xx keeps its own."""
    if error.get("type") == "upstream_error" and error.get("upstream_status") in PASSED_UPSTREAM:
        return int(error["upstream_status"])
    return STATUS_BY_TYPE.get(str(error.get("type")), 500)
