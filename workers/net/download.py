"""Guarded downloader: stream a user-given URL to a file, hashing as it goes.

Every limit is enforced while streaming (bytes, time, redirects), and the
client refuses private targets unless FERRY_ALLOW_PRIVATE_URLS is set
(see :mod:`workers.net.guard`).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from workers.core.errors import FetchError, FerryError, TooLarge
from workers.net.guard import guarded_client
from workers.core.settings import Settings



@dataclass
class Downloaded:
    path: Path
    size: int
    sha256: str
    content_type: str | None
    final_url: str


def download(url: str, dest: Path, settings: Settings) -> Downloaded:
    limit = settings.max_download_bytes
    deadline = time.monotonic() + settings.fetch_max_seconds  # a slow drip cannot hold a worker forever
    digest = hashlib.sha256()
    size = 0
    try:
        with guarded_client(
            allow_private=settings.allow_private_urls,
            timeout=settings.fetch_timeout,
            max_redirects=settings.max_redirects,
            headers={"User-Agent": "Ferry/0.1 (+https://github.com/ferry)"},
        ) as client, client.stream("GET", url) as resp:
            if resp.status_code >= 400 or resp.status_code < 200:
                raise FetchError(f"GET {url} answered {resp.status_code} {resp.reason_phrase}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise TooLarge(f"{url} is {declared} bytes; FERRY_MAX_DOWNLOAD_BYTES is {limit}")
            with dest.open("wb") as out:
                for chunk in resp.iter_bytes():  # as they arrive, so limits are checked on every read
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"{url} is over FERRY_MAX_DOWNLOAD_BYTES ({limit} bytes)")
                    if time.monotonic() > deadline:
                        raise FetchError(f"{url}: still downloading after FERRY_FETCH_MAX_SECONDS "
                                         f"({settings.fetch_max_seconds:g} s; {size} bytes so far)")
                    digest.update(chunk)
                    out.write(chunk)
            return Downloaded(dest, size, digest.hexdigest(), resp.headers.get("content-type"), str(resp.url))
    except FerryError:
        raise
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"{url}: more than {settings.max_redirects} redirects") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"{url}: timed out after {settings.fetch_timeout:g} s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: could not be fetched: {exc or type(exc).__name__}") from exc
    except httpx.InvalidURL as exc:
        raise FetchError(f"{url}: not a valid URL ({exc})") from exc
