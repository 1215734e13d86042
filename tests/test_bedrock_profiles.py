"""Issue 12 item 2: Bedrock inference profiles, end to end through a real worker and the Bedrock simulator
(which, like AWS, refuses a profile-only model's bare id and a profile outside its region's geography).

The session's workers call Bedrock in us-east-1 (AWS_REGION from app/simulators/server.py env_for).
"""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import AUTH, CORPUS, wait_job
from tests.helpers import data_uri, image_part, job_body
from workers.core.errors import Unprocessable
from workers.providers.catalog import get_catalog

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
JPEG = data_uri(CORPUS / "images" / "hopper.jpg", "image/jpeg")
ACCOUNT = "123456789012"


def converse_calls(sim) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in sim.state.log() if e["path"].endswith("/converse")]


def run(client, body) -> dict:  # type: ignore[no-untyped-def]
    resp = client.post("/v1/jobs", json=body, headers=AUTH)
    assert resp.status_code == 202, resp.json
    return wait_job(client, resp.json["id"])


@pytest.mark.parametrize("model, sent", [
    (f"us.{SONNET}", f"us.{SONNET}"),  # a profile id: sent as given
    (f"global.{SONNET}", f"global.{SONNET}"),
    (SONNET, f"us.{SONNET}"),  # bare, profile-only: the us-east-1 geography's profile
    ("amazon.nova-premier-v1:0", "us.amazon.nova-premier-v1:0"),  # not listed, family profile-only
    (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}",
     f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.{SONNET}"),
    (f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6",
     f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/a1b2c3d4e5f6"),
    ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),  # on-demand: bare id as before
])
def test_profiles_resolve_to_the_base_model_and_reach_bedrock(client, sims, model, sent):
    job = run(client, job_body(f"bedrock/{model}", image_part(JPEG)))
    assert job["status"] == "succeeded", job.get("error")
    call = converse_calls(sims["bedrock"])[-1]
    assert call["status"] == 200 and f"model={sent} " in job["result"]["choices"][0]["message"]["content"]
    assert [p["kind"] for p in call["parts"]] == ["text", "image"]
    assert job["result"]["model"] == f"bedrock/{model}"
    if model == "amazon.nova-pro-v1:0":
        assert "model_resolution" not in job  # listed, on-demand, sent as given: nothing to record
    else:
        assert job["model_resolution"]["sent_as"] == sent
    if sent != model:
        assert any(f"sent as {sent}" in n and "us-east-1" in n for n in job["model_resolution"]["notes"])


@pytest.mark.parametrize("model, region", [
    (f"eu.{SONNET}", "eu."),
    (f"apac.{SONNET}", "apac."),
    (f"jp.{SONNET}", "jp."),
    (f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{SONNET}", "eu-west-1"),
])
def test_a_profile_of_another_region_is_a_422_before_any_call(client, sims, model, region):
    before = len(converse_calls(sims["bedrock"]))
    resp = client.post("/v1/jobs", json=job_body(f"bedrock/{model}"), headers=AUTH)
    assert resp.status_code == 422, resp.json
    err = resp.json["error"]
    assert err["param"] == "request.model" and region in err["message"] and "us-east-1" in err["message"]
    assert len(converse_calls(sims["bedrock"])) == before


def test_profile_capabilities_are_the_base_models():
    cat = get_catalog()
    base = cat.resolve(f"bedrock/{SONNET}")
    for model in (f"us.{SONNET}", f"eu.{SONNET}", f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/eu.{SONNET}"):
        caps = cat.resolve(f"bedrock/{model}")  # no region: capabilities only
        assert caps.uses == f"bedrock/{SONNET}" and caps.wire_model == model
        assert caps.image == base.image and caps.document == base.document


@pytest.mark.parametrize("region, sent", [
    ("eu-west-1", f"eu.{SONNET}"), ("eu-central-1", f"eu.{SONNET}"), ("ap-northeast-1", f"apac.{SONNET}"),
    ("us-gov-west-1", f"us-gov.{SONNET}"), ("us-west-2", f"us.{SONNET}"), ("ca-central-1", f"ca.{SONNET}"),
    ("sa-east-1", f"global.{SONNET}"),
])
def test_bare_profile_only_ids_take_the_configured_regions_geography(region, sent):
    caps = get_catalog().resolve(f"bedrock/{SONNET}", region=region)
    assert caps.wire_model == sent and region in caps.notes[-1]
    assert get_catalog().resolve(f"bedrock/{sent}", region=region).wire_model == sent  # and that profile is valid there
    with pytest.raises(Unprocessable, match=region):
        other = "us" if not sent.startswith("us.") else "eu"
        get_catalog().resolve(f"bedrock/{other}.{SONNET}", region=region)


def _boto(sims, region: str = "us-east-1"):  # type: ignore[no-untyped-def]
    return boto3.client("bedrock-runtime", region_name=region, endpoint_url=sims["bedrock"].url,
                        aws_access_key_id="sim", aws_secret_access_key="sim",
                        config=Config(retries={"max_attempts": 1}))


def test_simulator_refuses_a_profile_only_bare_id_like_aws(sims):
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    with pytest.raises(ClientError) as exc:
        _boto(sims).converse(modelId=SONNET, messages=messages)
    err = exc.value.response["Error"]
    assert err["Code"] == "ValidationException"
    assert err["Message"] == (f"Invocation of model ID {SONNET} with on-demand throughput isn\u2019t supported. Retry "
                              "your request with the ID or ARN of an inference profile that contains this model.")
    assert _boto(sims).converse(modelId=f"us.{SONNET}", messages=messages)["stopReason"] == "end_turn"
    with pytest.raises(ClientError, match="model identifier is invalid"):  # us. profile called from eu-west-1
        _boto(sims, "eu-west-1").converse(modelId=f"us.{SONNET}", messages=messages)
    assert _boto(sims, "eu-west-1").converse(modelId=f"eu.{SONNET}", messages=messages)["stopReason"] == "end_turn"


def test_model_lookup_says_a_listed_profile_only_id_is_sent_as_the_regions_profile(client):
    """GET /v1/models/{id} answers what a job would send: the listed bare id goes as the us-east-1 profile."""
    resp = client.get(f"/v1/models/bedrock/{SONNET}", headers=AUTH)
    assert resp.status_code == 200, resp.json
    expected = get_catalog().resolve(f"bedrock/{SONNET}", region="us-east-1").wire_model
    assert resp.json["listed"] is True and resp.json["model_resolution"]["sent_as"] == expected
    assert expected.startswith("us.")
    plain = client.get("/v1/models/bedrock/amazon.nova-pro-v1:0", headers=AUTH).json  # on-demand: sent as named
    assert plain["listed"] is True and "model_resolution" not in plain
