"""``complete``: build the provider-native request from the delivered parts, call the provider, keep the result.

A dry run stops after building (the request is shown with base64 shortened to ``<sha256:…, N bytes>``).
A job's success, like any end, queues ``notify`` in the same Redis script that records it.
"""
from __future__ import annotations

from typing import Any

from workers.context import Context
from workers.core.records import JobRecord, Resource
from workers.core.errors import Unprocessable, UpstreamError
from workers.pipeline import batch_prepare
from workers.pipeline.deliver import fit_request, ref_lifetime, refresh_stale_files
from workers.pipeline.estimate import delivery_plan, usage_estimate
from workers.pipeline.outputs import store_outputs, task_for
from workers.providers.base import Call, Message, Part, get_adapter
from workers.providers.batch_catalog import job_cost
from workers.providers.catalog import ModelCaps
from workers.providers.transport import send
from workers.state.leases import hold
from workers.storage.blobs import read_blob_b64


def _media_parts(ctx: Context, res: Resource) -> list[Part]:
    parts: list[Part] = []
    deliveries = res["delivery"].get("parts") or [res["delivery"]]
    for out, how in zip(res["outputs"], deliveries):
        if out["kind"] == "text":
            parts.append(Part("text", text=out["text"]))
            continue
        filename = res["source"].get("filename")
        if out.get("page_range"):  # one of several documents split from one PDF: name its pages
            first, last = out["page_range"]
            filename = f"{(filename or 'document').rsplit('.', 1)[0]} pages {first}-{last}.pdf"
        part = Part("media", kind=out["kind"], mime=out["mime"], sha256=out.get("sha256"), size=out.get("bytes"),
                    filename=filename, detail=res.get("detail"))
        if how["method"] == "inline":
            part.data_b64 = read_blob_b64(ctx.storage, out["sha256"])
        elif how["method"] == "file":
            part.file_id = how["ref"]
        else:
            part.url = how["ref"]
        parts.append(part)
    return parts


def build_call(ctx: Context, record: JobRecord, resources: list[Resource]) -> Call:
    caps = ctx.catalog.resolve(record["model"], region=ctx.settings.bedrock_region())
    body = record["request"]
    messages: list[Message] = []
    for msg in body["messages"]:
        content = msg.get("content")
        if content is None:
            parts: list[Part] = []
        elif isinstance(content, str):
            parts = [Part("text", text=content)]
        else:
            parts = []
            for p in content:
                if p["type"] == "text":
                    parts.append(Part("text", text=p["text"]))
                else:
                    parts.extend(_media_parts(ctx, resources[p["index"]]))
        messages.append(Message(msg["role"], parts, tool_calls=msg.get("tool_calls") or None,
                                tool_call_id=msg.get("tool_call_id")))
    params = {k: v for k, v in body.items() if k not in ("model", "messages", "stream", "stream_options")}
    for old, new in caps.param_renames.items():  # the model's family takes another name (gpt-5: max_completion_tokens)
        if old in params and new not in params:
            params[new] = params.pop(old)
    base_url = ctx.settings.provider_base_url(caps.provider) or caps.default_base_url
    return Call(caps.provider, caps.model, messages, params, base_url, ctx.settings.provider_key(caps.provider),
                task=task_for(record, caps), wire_model=caps.wire_model if caps.wire_model != caps.model else "")


def shorten_payloads(obj: Any, call: Call) -> Any:
    """Replace each base64 payload by ``<sha256:…, N bytes>`` so dry runs stay readable."""
    labels = {p.data_b64: f"<sha256:{p.sha256}, {p.size} bytes>" for m in call.messages for p in m.parts if p.data_b64}

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, str) and len(x) > 64:
            if x in labels:
                return labels[x]
            head, sep, tail = x.partition(";base64,")
            if sep and tail in labels:
                return f"{head};base64,{labels[tail]}"
        return x

    return walk(obj)


def check_part_counts(call: Call, caps: ModelCaps) -> None:
    """Per-request counts (images, documents) from the catalog: PDF pages rendered as images and
    video frames count too, so this runs on the final parts, not on the request as submitted."""
    counts: dict[str, int] = {}
    for m in call.messages:
        for p in m.parts:
            if p.type == "media" and p.kind:
                counts[p.kind] = counts.get(p.kind, 0) + 1
    for kind, n in counts.items():
        cap = getattr(caps.caps_for(kind), "max_per_request", None)
        if cap and n > cap:
            raise Unprocessable(f"the request carries {n} {kind} parts after processing; {caps.id} takes at most "
                                f"{cap} per request (split the request, or lower pdf_image_pages / video_frames)",
                                param="request.messages")


def complete(ctx: Context, job_id: str, record: JobRecord) -> None:
    """Build, (unless a dry run) call, store the result. Success does not queue ``notify``: the task that
    runs this runs it next (workers/tasks/stages.py); the status change still expects it, for the reaper."""
    caps = ctx.catalog.resolve(record["model"])
    resources = ctx.store.resources(job_id, record.get("n_resources"))
    fit_request(ctx, job_id, caps, resources, record.get("tenant", ""),  # sum of inline parts <= request_max_bytes
                lifetime=ref_lifetime(ctx, record, caps))
    call = build_call(ctx, record, resources)
    check_part_counts(call, caps)
    adapter = get_adapter(caps.adapter)
    native = adapter.build_request(call)
    shown = shorten_payloads(native.public(), call)
    estimate = usage_estimate(record, resources)
    if record.get("dry_run"):
        ctx.store.succeed(job_id, None, notify=False, provider_request=shown, delivery_plan=delivery_plan(resources),
                          usage_estimate=estimate)
        hold(ctx.settings, "succeeded")
        return
    if batch_prepare.is_native(record):  # a native batch line: keep the request for the provider batch
        batch_prepare.prepare(ctx, job_id, record, caps, native, shown, estimate)
        return
    ctx.store.put_field(job_id, "provider_request", shown)
    if caps.key_required and not call.api_key:
        raise Unprocessable(f"no credentials for {call.provider} on the workers: set "
                            f"{ctx.settings.credential_hint(call.provider)}", param="request.model")
    try:
        body = send(native, adapter, ctx.settings.upstream_timeout, idempotency_key=f"ferry-{job_id}")
    except UpstreamError as exc:  # a cached file id the provider no longer has: re-upload once, retry
        if not refresh_stale_files(ctx, job_id, caps, exc):
            raise
        native = adapter.build_request(build_call(ctx, record, ctx.store.resources(job_id)))
        body = send(native, adapter, ctx.settings.upstream_timeout, idempotency_key=f"ferry-{job_id}-refreshed")
    result = adapter.parse_response(body, call)
    # Providers report image tokens inside prompt_tokens; Ferry's per-image estimate shows the share.
    result.setdefault("usage", {}).setdefault("prompt_tokens_details", {})["image_tokens_estimate"] = \
        estimate["prompt_tokens_details"]["image"]
    result["cost"] = job_cost(caps.id, result.get("usage"), estimate)  # USD, from the catalog's prices
    result = store_outputs(ctx, record, job_id, result, call)  # generated media -> Ferry files, URLs (workers/services/outputs.py)
    ctx.store.succeed(job_id, result, notify=False, usage_estimate=estimate)
    hold(ctx.settings, "succeeded")  # test hook: a kill here must still notify (tests/test_success_window.py)
