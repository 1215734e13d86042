"""Bedrock inference profiles: which foundation model an id names, and which id to send from a region.

AWS serves Claude 3.7 and later, Claude 4.x, Nova Premier and others only through inference profiles:
the bare id answers ``ValidationException: Invocation of model ID … with on-demand throughput isn't
supported``. Profile ids carry a geography prefix (``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.``,
``ca.``, ``us-gov.``, ``global.``) that is valid only from that geography's source regions
(https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html); profile ARNs
name their region. The rules (geographies and their regions) are data: ``[providers.bedrock.inference_profiles]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from workers.core.errors import Unprocessable


@dataclass
class ProfileRef:
    base: str
    """The foundation-model id whose capabilities apply (``""`` for an application profile ARN)."""
    geography: str | None = None
    arn_region: str | None = None
    form: str = "bare"
    """``bare`` | ``profile`` (geography-prefixed id) | ``profile_arn`` | ``foundation_arn`` | ``application_arn``."""


def parse(model: str, geographies: dict[str, list[str]]) -> ProfileRef:
    """Split a Bedrock model id or ARN into its base model, geography and region."""
    if model.startswith("arn:"):
        fields = model.split(":", 5)
        if len(fields) < 6 or fields[2] != "bedrock" or "/" not in fields[5]:
            raise Unprocessable(f"bedrock model {model!r} is not a Bedrock ARN (arn:aws:bedrock:<region>:<account>:"
                                "inference-profile/<id>)", param="request.model")
        region, (resource, _, rest) = fields[3], fields[5].partition("/")
        if resource == "application-inference-profile":
            return ProfileRef("", arn_region=region, form="application_arn")
        inner = parse(rest, geographies)
        form = {"inference-profile": "profile_arn", "foundation-model": "foundation_arn"}.get(resource, resource)
        return ProfileRef(inner.base, inner.geography, region, form)
    for geo in sorted(geographies, key=len, reverse=True):  # "us-gov." before "us."
        if model.startswith(geo + "."):
            return ProfileRef(model[len(geo) + 1:], geo, form="profile")
    return ProfileRef(model)


def in_geography(region: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(region, p) for p in patterns)


def check_region(model: str, ref: ProfileRef, geographies: dict[str, list[str]], region: str | None) -> None:
    """422 before any call when the id cannot be invoked from ``region``."""
    if not region:
        return
    if ref.arn_region and ref.arn_region != region:
        raise Unprocessable(f"bedrock model {model!r} is an ARN in region {ref.arn_region}, but Ferry calls Bedrock in "
                            f"{region} (AWS_REGION); use an ARN or profile of {region}", param="request.model")
    if ref.geography and not in_geography(region, geographies[ref.geography]):
        fits = [g for g, pats in geographies.items() if in_geography(region, pats)]
        suggest = f"; profiles of {region}: {', '.join(g + '.' + ref.base for g in fits)}" if fits else ""
        raise Unprocessable(f"bedrock inference profile {model!r} ({ref.geography}.) cannot be invoked from {region} "
                            f"(AWS_REGION): its source regions are {', '.join(geographies[ref.geography])}{suggest}",
                            param="request.model")


def profile_for(base: str, geographies: dict[str, list[str]], prefer: list[str], region: str | None) -> tuple[str, str]:
    """(geography, profile id) a bare profile-only ``base`` is sent as from ``region``."""
    region = region or "us-east-1"
    for geo in prefer:
        if in_geography(region, geographies.get(geo, [])):
            return geo, f"{geo}.{base}"
    raise Unprocessable(f"bedrock serves {base!r} only through inference profiles, and none of "
                        f"{', '.join(prefer)} serves region {region}", param="request.model")
