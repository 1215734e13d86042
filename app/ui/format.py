"""Template filters: times, durations, sizes and JSON as a person reads them (pure functions)."""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from jinja2 import Undefined

#: Strings longer than this are cut in displayed JSON (base64 is already shortened by Ferry).
MAX_STRING = 600


def _missing(value: Any) -> bool:
    """None, or a field the record does not have (Jinja's Undefined)."""
    return value is None or isinstance(value, Undefined)


def when(ts: Any) -> str:
    if _missing(ts) or not ts:
        return "–"
    return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(ts: Any) -> str:
    if _missing(ts) or not ts:
        return "–"
    return seconds(max(0.0, time.time() - float(ts))) + " ago"


def seconds(value: Any) -> str:
    if _missing(value):
        return "–"
    s = float(value)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 90:
        return f"{s:.1f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def size(value: Any) -> str:
    if _missing(value):
        return "–"
    n = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def pct(value: Any) -> str:
    return "–" if _missing(value) else f"{100 * float(value or 0):.0f}%"


def usd(cost: Any) -> str:
    """``{"usd", "estimated"}`` (app/ui/data.cost_of) as dollars; small amounts keep 4 significant digits."""
    if _missing(cost) or not cost:
        return "–"
    value = float(cost["usd"])
    text = f"${value:.2f}" if value >= 1 else f"${value:.4g}"
    return ("~" if cost.get("estimated") else "") + text


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_STRING:
        return value[:MAX_STRING] + f"… <{len(value) - MAX_STRING} more characters>"
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v) for v in value]
    return value


def pretty_json(value: Any) -> str:
    """Indented JSON with very long strings cut (the download link has the full document)."""
    return json.dumps(_cut(value), indent=2, ensure_ascii=False)
