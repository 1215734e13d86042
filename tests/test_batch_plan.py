"""Planning a native batch's provider batches (workers/services/batch_plan.py): pure, no services."""
from __future__ import annotations

from workers.providers import batch_catalog
from workers.services.batch_plan import plan, split


def test_a_split_at_the_line_limit_is_even():
    sizes = [(i, 10) for i in range(50_050)]
    chunks = split(sizes, max_lines=50_000, max_bytes=10**12)
    assert [len(c) for c in chunks] == [25_025, 25_025]  # not 50,000 + 50 (under Bedrock's minimum of 100)
    assert [i for c in chunks for i in c] == list(range(50_050))
    assert [len(c) for c in split(sizes[:7], max_lines=3, max_bytes=10**12)] == [3, 3, 1]
    assert split([], max_lines=3, max_bytes=10) == []


def test_the_byte_limit_cuts_too():
    chunks = split([(0, 6), (1, 6), (2, 6), (3, 1)], max_lines=100, max_bytes=12)
    assert chunks == [[0, 1], [2, 3]]


def test_groups_per_provider_and_model_and_lines_too_large_for_any():
    anthropic_cap, _ = batch_catalog.line_cap(batch_catalog.limits("anthropic"))  # type: ignore[arg-type]
    prepared = {
        0: {"provider": "openai", "model": "gpt-4o", "bytes": 100},
        1: {"provider": "anthropic", "model": "claude-haiku-4-5", "bytes": anthropic_cap + 1},
        2: {"provider": "openai", "model": "gpt-4o-mini", "bytes": 100},
        3: {"provider": "openai", "model": "gpt-4o", "bytes": 100},
        4: {"provider": "anthropic", "model": "claude-haiku-4-5", "bytes": 100},
        5: {"provider": "openai", "model": "gpt-4o", "bytes": 100},
    }
    groups, too_large = plan("batch_x", prepared, done={5})
    assert [(g["provider"], g["model"], g["lines"]) for g in groups.values()] == [
        ("anthropic", "claude-haiku-4-5", [4]), ("openai", "gpt-4o", [0, 3]), ("openai", "gpt-4o-mini", [2])]
    assert [g["tag"] for g in groups.values()] == ["ferry-batch_x-0", "ferry-batch_x-1", "ferry-batch_x-2"]
    assert [(t.index, t.limit) for t in too_large] == [(1, anthropic_cap)]
