"""Plan: (facts, model capabilities, options) -> transforms, each with its reason.

Pure: no I/O, only the facts from inspect and the catalog entry. Raises 415/422/413 saying what the
model (``caps.id``) cannot take and why. Each kind plans in its own module (workers/media/kinds/).
Options (job level unless noted):

- ``detail``: ``auto`` | ``low`` | ``high`` (per part, from ``image_url.detail``)
- ``pdf_strategy``: ``auto`` (native when within the model's limits, else text + page images) |
  ``native`` | ``text`` (extracted text per page) | ``images`` (rendered pages)
  | ``ocr`` (pages read by FERRY_OCR_PROVIDER's OCR endpoint, as text); scanned pages (no text layer)
  go as page images where text would be sent, a 422 for a model without image input
- ``document_strategy``: office and text documents: ``auto`` (native where the model takes the format) |
  ``native`` | ``text`` (converted to Markdown); ``document_images``: embedded images sent (default 8)
- ``pdf_image_pages``: pages rendered as images (default 4 beside text, 20 for ``images``)
- ``video_frames``: frames sampled from a video for image-only models (default 8)
- ``out_of_line``: delivery methods (Files API, staging) that can carry an item whole

Image steps: ``keep`` | ``first_frame``, ``exif_transpose``, ``to_rgb``, ``flatten_alpha``, ``resize``,
``encode``. Documents: ``keep`` | ``pdf_rewrite`` | ``pdf_pages`` | ``pdf_split`` | ``pdf_ocr`` | ``office_convert`` |
``text_convert`` | ``text_utf8``. Audio: ``keep`` | ``transcode``.
Video: ``keep`` | ``video_frames``.
"""
from __future__ import annotations

from typing import Any

from workers.media.kinds import kind
from workers.providers.catalog import ModelCaps


def plan_resource(facts: dict[str, Any], caps: ModelCaps, options: dict[str, Any]) -> list[dict[str, Any]]:
    return kind(facts["kind"], facts.get("mime")).plan(facts, caps, options)
