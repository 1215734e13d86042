"""Bedrock batch inference as a native batch (issue 13), with the official openai SDK against Ferry's /v1/batches.

A private stack (tests/stack.py) whose workers stage to a moto S3 bucket (the same bucket Bedrock s3Location
delivery uses) and have a batch service role; the Bedrock simulator's control plane
(app/simulators/bedrock_batches.py) reads the job's JSONL from that bucket and writes its ``.out`` file back,
each record run through the simulator's Converse rules. Jobs need at least 100 records, so native groups here
are 100 lines or more; smaller groups run as jobs (auto) or are answered per line (native).
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import openai
import pytest

from tests.conftest import CORPUS
from tests.helpers import data_uri
from tests.services import Service, moto_s3_server
from tests.stack import Stack

HOPPER = CORPUS / "images" / "hopper.jpg"
MODEL = "bedrock/amazon.nova-lite-v1:0"
BUCKET = f"ferry-bedrock-batch-{uuid.uuid4().hex[:8]}"
ROLE = "arn:aws:iam::123456789012:role/ferry-batch"
N = 100  # the simulator's (and the catalog's) minimum records per job


@pytest.fixture(scope="module")
def moto() -> Iterator[Service]:
    with moto_s3_server() as service:
        yield service


@pytest.fixture(scope="module")
def s3(moto: Service) -> Any:
    client = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def stack(sims, moto: Service, s3: Any) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    env = {**moto.env, "AWS_REGION": "us-east-1", "FERRY_STAGING": f"s3://{BUCKET}/stage",
           "FERRY_BEDROCK_BATCH_ROLE_ARN": ROLE, "FERRY_BATCH_POLL_SECONDS": "0.3", "FERRY_LEASE_SECONDS": "2",
           "FERRY_REAPER_INTERVAL": "0.5", "FERRY_QUEUE_DEADLINE": "4"}
    s = Stack(env, prefix="ferry-bedrock-batch-")
    s.main = s.worker(concurrency=3)  # type: ignore[attr-defined]
    yield s
    s.close()


@pytest.fixture
def sim(sims, moto: Service) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The Bedrock simulator's URL: reading moto's S3, its jobs ending after 0.5 s, its log cleared."""
    url = sims["bedrock"].url
    httpx.post(f"{url}/_sim/s3", json={"endpoint_url": moto.url})
    httpx.post(f"{url}/_sim/batches", json={"delay": 0.5, "expire": False})
    httpx.delete(f"{url}/_sim/log")
    yield url
    httpx.post(f"{url}/_sim/batches", json={"delay": 1.0, "expire": False})


@pytest.fixture
def sdk(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.url + "/v1", api_key="ferry-local-key", max_retries=0, timeout=60)


def control(sims: dict[str, Any]) -> Any:
    """boto3's own ``bedrock`` client on the simulator, to see the jobs as AWS would list them."""
    return boto3.client("bedrock", endpoint_url=sims["bedrock"].url, region_name="us-east-1",
                        aws_access_key_id="sim-access-key", aws_secret_access_key="sim-secret-key")


def jobs_of(sims: dict[str, Any], batch_id: str) -> list[dict[str, Any]]:
    name = f"ferry-{batch_id.replace('_', '-')}-"
    return control(sims).list_model_invocation_jobs(nameContains=name)["invocationJobSummaries"]


def sim_log(url: str) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/_sim/log").json()


def line(custom_id: str, content: Any = "Say hi", model: str = MODEL, **body: Any) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": {"model": model, "messages": [{"role": "user", "content": content}],
                                "max_tokens": 10, **body}}) + "\n"


def image_content(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": data_uri(HOPPER, "image/jpeg")}}]


def create(sdk: openai.OpenAI, jsonl: str, ferry: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    f = sdk.files.create(file=("in.jsonl", jsonl.encode()), purpose="batch")
    return sdk.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h",
                              extra_body={"ferry": ferry} if ferry is not None else None)


def wait(sdk: openai.OpenAI, stack: Stack, batch_id: str, timeout: float = 180):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while (batch := sdk.batches.retrieve(batch_id)).status not in ("completed", "failed", "cancelled", "expired"):
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} still {batch.status}: {batch.model_extra}\n"
                                 + "\n".join(stack.tail(w) for w in stack.workers))
        time.sleep(0.2)
    return batch


def wait_provider_id(sdk: openai.OpenAI, batch_id: str, timeout: float = 120) -> str:
    """Until the provider batch is recorded (its lines prepared, the job created)."""
    deadline = time.monotonic() + timeout
    while True:
        pbs = sdk.batches.retrieve(batch_id).model_extra["ferry"]["provider_batches"]
        if pbs and pbs[0].get("id"):
            return str(pbs[0]["id"])
        assert time.monotonic() < deadline, f"no provider batch recorded for {batch_id}: {pbs}"
        time.sleep(0.1)


def read_jsonl(sdk: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    return [json.loads(x) for x in sdk.files.content(file_id).text.splitlines()] if file_id else []


def test_native_batch_of_100_with_media_and_a_bad_record(stack, sdk, sim, sims, s3):
    """100 lines with an image go as one Converse batch job: records in S3 carry the image bytes (base64), no
    Converse call is made synchronously; the answers come back as chat.completion; a record Converse refuses
    (temperature above 1) is its 400 in the error file."""
    jsonl = "".join(line(f"img-{i}", image_content(f"picture {i}")) for i in range(N))
    jsonl += line("hot", "too hot", temperature=1.5)
    batch = wait(sdk, stack, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (N + 1, N, 1)
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert pb["provider"] == "bedrock" and pb["model"] == "amazon.nova-lite-v1:0" and pb["lines"] == N + 1
    assert pb["status"] == "completed" and ":model-invocation-job/" in pb["id"]
    cost = batch.model_extra["ferry"]["cost"]  # priced from batch_catalog.toml's Nova Lite row, at half price
    assert cost["usd"] > 0 and cost["sync_usd"] == pytest.approx(2 * cost["usd"]) and cost["saved_usd"] > 0

    out = {o["custom_id"]: o for o in read_jsonl(sdk, batch.output_file_id)}
    assert sorted(out) == sorted(f"img-{i}" for i in range(N))
    for i in range(N):
        body = out[f"img-{i}"]["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == MODEL
        assert "image/jpeg" in body["choices"][0]["message"]["content"]  # the simulator saw the image
        assert body["usage"]["prompt_tokens"] > 0
    [bad] = read_jsonl(sdk, batch.error_file_id)
    assert bad["custom_id"] == "hot" and bad["response"]["status_code"] == 400
    assert "inferenceConfig.temperature" in bad["response"]["body"]["error"]["message"]

    [job] = jobs_of(sims, batch.id)
    assert job["jobArn"] == pb["id"] and job["status"] == "Completed"
    assert job["modelInvocationType"] == "Converse" and job["roleArn"] == ROLE
    prefix = f"stage/ferry-batches/{job['jobName']}/"
    assert job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"] == f"s3://{BUCKET}/{prefix}input/"
    raw = s3.get_object(Bucket=BUCKET, Key=f"{prefix}input/input.jsonl")["Body"].read().splitlines()
    records = [json.loads(r) for r in raw]
    assert len(records) == N + 1 and len({r["recordId"] for r in records}) == N + 1
    assert all(len(r["recordId"]) == 11 and r["recordId"].isalnum() for r in records)
    image = records[0]["modelInput"]["messages"][0]["content"][1]["image"]
    assert image["format"] == "jpeg" and base64.b64decode(image["source"]["bytes"])[:3] == b"\xff\xd8\xff"
    job_id = job["jobArn"].rsplit("/", 1)[1]
    outputs = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}output/{job_id}/")["Contents"]
    assert sorted(o["Key"].rsplit("/", 1)[1] for o in outputs) == ["input.jsonl.out", "manifest.json.out"]

    log = sim_log(sim)
    assert not [e for e in log if e["path"].endswith("/converse")]  # nothing synchronous upstream
    assert len([e for e in log if e["method"] == "POST" and e["path"] == "/model-invocation-job"]) == 1


def test_small_group_in_auto_mode_runs_as_jobs(stack, sdk, sim, sims):
    jsonl = "".join(line(f"s{i}", f"small {i}") for i in range(3))
    batch = wait(sdk, stack, create(sdk, jsonl).id)
    assert batch.status == "completed" and batch.request_counts.completed == 3, batch
    out = read_jsonl(sdk, batch.output_file_id)
    assert sorted(o["custom_id"] for o in out) == ["s0", "s1", "s2"]
    assert all(o["response"]["body"]["object"] == "chat.completion" for o in out)
    [pb] = batch.model_extra["ferry"]["provider_batches"]
    assert pb["status"] == "ran_as_jobs" and pb["id"] is None and "at least 100" in pb["reason"]
    log = sim_log(sim)
    assert len([e for e in log if e["path"].endswith("/converse")]) == 3
    assert not [e for e in log if "model-invocation-job" in e["path"]] and not jobs_of(sims, batch.id)


def test_small_group_in_native_mode_is_answered_per_line(stack, sdk, sim):
    jsonl = "".join(line(f"n{i}", f"small {i}") for i in range(2))
    batch = wait(sdk, stack, create(sdk, jsonl, {"mode": "native"}).id)
    assert batch.status == "completed" and batch.request_counts.failed == 2, batch
    errors = read_jsonl(sdk, batch.error_file_id)
    assert sorted(e["custom_id"] for e in errors) == ["n0", "n1"]
    assert {e["error"]["code"] for e in errors} == {"batch_too_small"}
    assert all("at least 100 requests" in e["error"]["message"] and "has 2" in e["error"]["message"]
               for e in errors)
    assert not [e for e in sim_log(sim) if "/converse" in e["path"] or "model-invocation-job" in e["path"]]


def test_stop_while_running(stack, sdk, sim, sims):
    httpx.post(f"{sim}/_sim/batches", json={"delay": 60})
    created = create(sdk, "".join(line(f"c{i}", f"n {i}") for i in range(N)), {"mode": "native"})
    arn = wait_provider_id(sdk, created.id)
    assert sdk.batches.cancel(created.id).status in ("cancelling", "cancelled")
    batch = wait(sdk, stack, created.id, timeout=60)
    assert batch.status == "cancelled"
    errors = read_jsonl(sdk, batch.error_file_id)
    assert sorted(e["custom_id"] for e in errors) == sorted(f"c{i}" for i in range(N))
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    assert control(sims).get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopped"
    assert batch.model_extra["ferry"]["provider_batches"][0]["status"] == "cancelled"
    assert [e["path"] for e in sim_log(sim) if e["path"].endswith("/stop")] == [f"/model-invocation-job/{arn}/stop"]


def test_an_expired_job_reports_its_lines(stack, sdk, sim):
    httpx.post(f"{sim}/_sim/batches", json={"delay": 0.2, "expire": True})
    batch = wait(sdk, stack, create(sdk, "".join(line(f"e{i}", f"n {i}") for i in range(N)), {"mode": "native"}).id)
    assert batch.status == "completed"
    assert batch.model_extra["ferry"]["provider_batches"][0]["status"] == "expired"
    errors = read_jsonl(sdk, batch.error_file_id)
    assert len(errors) == N and {e["error"]["code"] for e in errors} == {"batch_expired"}
    assert "did not begin before its 24 h timeout" in errors[0]["error"]["message"]


def test_kill_9_between_creating_and_recording_makes_one_job(stack, sdk, sim, sims):
    """The worker dies after CreateModelInvocationJob answered, before the job was recorded: the retry finds it
    (by name; its clientRequestToken would give the same job back) instead of creating a second."""
    stack.stop(stack.main)
    held = stack.worker(FERRY_TEST_STAGE_DELAY="batch_created:60")
    try:
        created = create(sdk, "".join(line(f"k{i}", f"n {i}") for i in range(N)), {"mode": "native"})
        stack.wait_for("the job made upstream", lambda: jobs_of(sims, created.id), timeout=120)
        time.sleep(0.3)  # well inside the 60 s hold
        assert [json.loads(g)["state"] for g in stack.r.hvals(f"ferry:batch:{created.id}:groups")] == ["creating"]
        stack.kill(held)
    finally:
        stack.main = stack.worker(concurrency=3)
    batch = wait(sdk, stack, created.id)
    assert batch.status == "completed" and batch.request_counts.completed == N, batch
    [job] = jobs_of(sims, created.id)  # no duplicate, no orphan
    assert job["status"] == "Completed" and job["clientRequestToken"]
    assert batch.model_extra["ferry"]["provider_batches"][0]["id"] == job["jobArn"]
    out = read_jsonl(sdk, batch.output_file_id)
    assert sorted(o["custom_id"] for o in out) == sorted(f"k{i}" for i in range(N))  # each once
    posts = [e for e in sim_log(sim) if e["method"] == "POST" and e["path"] == "/model-invocation-job"]
    assert len(posts) == 1


@pytest.mark.parametrize("mode", ["native", "auto"])
def test_without_a_service_role(stack, sdk, sim, sims, mode):
    """No FERRY_BEDROCK_BATCH_ROLE_ARN: native mode answers each line saying so; auto runs them as jobs at once
    (not prepared for a provider batch first)."""
    stack.stop(stack.main)
    bare = stack.worker(concurrency=3, FERRY_BEDROCK_BATCH_ROLE_ARN="")
    try:
        batch = wait(sdk, stack, create(sdk, "".join(line(f"r{i}", f"n {i}") for i in range(N)), {"mode": mode}).id)
    finally:
        stack.stop(bare)
        stack.main = stack.worker(concurrency=3)
    assert batch.status == "completed"
    assert not jobs_of(sims, batch.id) and batch.model_extra["ferry"]["provider_batches"] == []
    if mode == "native":
        errors = read_jsonl(sdk, batch.error_file_id)
        assert len(errors) == N and {e["error"]["code"] for e in errors} == {"no_batch_api"}
        assert "needs a service role: set FERRY_BEDROCK_BATCH_ROLE_ARN" in errors[0]["error"]["message"]
        assert not [e for e in sim_log(sim) if e["path"].endswith("/converse")]
    else:
        assert batch.request_counts.completed == N
        out = read_jsonl(sdk, batch.output_file_id)
        assert all(o["response"]["body"]["object"] == "chat.completion" for o in out)
        assert len([e for e in sim_log(sim) if e["path"].endswith("/converse")]) == N


def test_s3_media_is_copied_into_the_jobs_input_folder(sims, sim, moto, s3, tmp_path, monkeypatch):
    """A record naming media staged elsewhere in the bucket (storage delivery: ``s3Location``) would fail the job's
    validation, which wants every S3 resource inside the input folder: the client copies the object there once and
    points the record at the copy. The client is called in-process here, against moto and the simulator."""
    from workers.core.settings import get_settings
    from workers.providers.base import NativeRequest
    from workers.providers.batch_api import bedrock

    for k, v in {**moto.env, "FERRY_STAGING": f"s3://{BUCKET}/stage", "FERRY_BEDROCK_BATCH_ROLE_ARN": ROLE}.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        staged = f"s3://{BUCKET}/stage/blobs/ab/hopper-sha"
        s3.put_object(Bucket=BUCKET, Key="stage/blobs/ab/hopper-sha", Body=HOPPER.read_bytes())
        image = {"image": {"format": "jpeg", "source": {"s3Location": {"uri": staged}}}}
        path = tmp_path / "lines.jsonl"
        path.write_text("".join(json.dumps(bedrock.line(f"ferry-{i}", NativeRequest("POST", "", {}, {
            "messages": [{"role": "user", "content": [{"text": f"picture {i}"}, image]}]}))) + "\n" for i in range(N)))
        tag = f"ferry-batch_{uuid.uuid4().hex[:12]}-0"
        state = bedrock.submit(path, tag, "amazon.nova-lite-v1:0", base_url="", api_key="", timeout=30)
        again = bedrock.submit(path, tag, "amazon.nova-lite-v1:0", base_url="", api_key="", timeout=30)
        assert again.id == state.id  # found by name, not made twice
        deadline = time.monotonic() + 60
        while not (state := bedrock.retrieve(state.id, base_url="", api_key="", timeout=30)).ended:
            assert time.monotonic() < deadline, f"job still {state.status}"
            time.sleep(0.2)
        assert state.status == "completed", state.reason
        results = list(bedrock.results(state, base_url="", api_key="", timeout=30))
        assert sorted(r.custom_id for r in results) == sorted(f"ferry-{i}" for i in range(N))
        assert {r.status_code for r in results} == {200}
        folder = f"stage/ferry-batches/{bedrock.job_name(tag)}/input"
        first = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{folder}/input.jsonl")["Body"].readline())
        uri = first["modelInput"]["messages"][0]["content"][1]["image"]["source"]["s3Location"]["uri"]
        assert uri == f"s3://{BUCKET}/{folder}/media/hopper-sha"
        assert s3.get_object(Bucket=BUCKET, Key=f"{folder}/media/hopper-sha")["Body"].read() == HOPPER.read_bytes()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_simulator_fails_jobs_bedrock_would_fail(sims, sim, s3):
    """The control plane's own rules, through boto3: a bad request is a ValidationException at once; too few
    records, or S3 media outside the input folder, fail the job while it validates, with the reason."""
    bedrock = control(sims)
    record = {"modelInput": {"messages": [{"role": "user", "content": [{"text": "hi"}, {"image": {
        "format": "jpeg", "source": {"s3Location": {"uri": f"s3://{BUCKET}/elsewhere/x.jpg"}}}}]}]}}
    cases = {"few": [{"recordId": f"R{i}", "modelInput": {"messages": [{"role": "user", "content": [{"text": "x"}]}]}}
                     for i in range(5)],
             "outside": [{"recordId": f"R{i}", **record} for i in range(N)]}
    arns = {}
    for name, records in cases.items():
        key = f"sim-check/{uuid.uuid4().hex[:8]}/in.jsonl"
        s3.put_object(Bucket=BUCKET, Key=key, Body="".join(json.dumps(r) + "\n" for r in records).encode())
        arns[name] = bedrock.create_model_invocation_job(
            jobName=f"sim-check-{name}-{uuid.uuid4().hex[:6]}", roleArn=ROLE, modelId="amazon.nova-lite-v1:0",
            modelInvocationType="Converse",
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/{key.rsplit('/', 1)[0]}/"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/sim-check-out/"}})["jobArn"]
    for name, arn in arns.items():
        deadline = time.monotonic() + 30
        while (job := bedrock.get_model_invocation_job(jobIdentifier=arn))["status"] not in ("Failed", "Completed"):
            assert time.monotonic() < deadline, f"{name}: job still {job['status']}"
            time.sleep(0.1)
        assert job["status"] == "Failed", (name, job)
        assert ("between 100 and" if name == "few" else "outside the input location") in job["message"]
    with pytest.raises(bedrock.exceptions.ValidationException, match="timeoutDurationInHours"):
        bedrock.create_model_invocation_job(
            jobName="sim-check-timeout", roleArn=ROLE, modelId="amazon.nova-lite-v1:0", timeoutDurationInHours=200,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/x/"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/y/"}})
