"""The simulators' document rules for formats beyond PDF (issue 15), called as each SDK would."""
from __future__ import annotations

import base64

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.docgen import DOCS, make


@pytest.fixture()
def bedrock(sims):
    return boto3.client("bedrock-runtime", endpoint_url=sims["bedrock"].url, region_name="us-east-1",
                        aws_access_key_id="sim", aws_secret_access_key="sim",
                        config=Config(retries={"total_max_attempts": 1}))


def converse(client, fmt: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.converse(modelId="amazon.nova-pro-v1:0", messages=[{"role": "user", "content": [
        {"text": "Read it"}, {"document": {"format": fmt, "name": "report", "source": {"bytes": data}}}]}])


@pytest.mark.parametrize("fmt,name", [("docx", "testWORD.docx"), ("xlsx", "testEXCEL.xlsx"), ("doc", "testWORD.doc"),
                                      ("xls", "testEXCEL.xls")])
def test_bedrock_takes_office_formats_whose_bytes_match_the_label(bedrock, fmt, name):
    data = (DOCS / name).read_bytes()
    assert converse(bedrock, fmt, data)["output"]["message"]["content"][0]["text"].startswith("sim:bedrock")
    wrong = {"docx": "xlsx", "xlsx": "docx", "doc": "xls", "xls": "doc"}[fmt]
    with pytest.raises(ClientError, match=f"format '{wrong}', but the bytes appear to be {fmt}"):
        converse(bedrock, wrong, data)


def test_bedrock_text_documents_must_be_utf8(bedrock, tmp_path):
    assert converse(bedrock, "csv", make("csv", tmp_path).read_bytes())["output"]
    with pytest.raises(ClientError, match="UTF-8|unrecognised"):
        converse(bedrock, "txt", make("txt", tmp_path).read_bytes())  # cp1252


def test_anthropic_plain_text_document_and_its_media_type(sims):
    url = sims["anthropic"].url + "/v1/messages"
    headers = {"x-api-key": "sim-key", "anthropic-version": "2023-06-01"}

    def send(source):  # type: ignore[no-untyped-def]
        return httpx.post(url, headers=headers, json={"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [
            {"role": "user", "content": [{"type": "document", "source": source}, {"type": "text", "text": "sum"}]}]})

    ok = send({"type": "text", "media_type": "text/plain", "data": "Minutes: MARKER"})
    assert ok.status_code == 200 and "text/plain" in ok.json()["content"][0]["text"]
    assert "Minutes: MARKER" in sims["anthropic"].state.log()[-1]["parts"][0]["text"]
    bad = send({"type": "text", "media_type": "text/markdown", "data": "# x"})
    assert bad.status_code == 400 and "text/plain" in bad.json()["error"]["message"]
    docx = base64.b64encode((DOCS / "testWORD.docx").read_bytes()).decode()
    refused = send({"type": "base64", "media_type": "application/vnd.openxmlformats-officedocument."
                    "wordprocessingml.document", "data": docx})
    assert refused.status_code == 400


def test_gemini_takes_text_inline_but_not_office_files(sims):
    url = sims["gemini"].url + "/v1beta/models/gemini-2.5-flash:generateContent"

    def send(mime: str, data: bytes):  # type: ignore[no-untyped-def]
        return httpx.post(url, headers={"x-goog-api-key": "sim-key"}, json={"contents": [{"role": "user", "parts": [
            {"text": "read"}, {"inline_data": {"mime_type": mime, "data": base64.b64encode(data).decode()}}]}]})

    assert send("text/csv", b"a,b\n1,2\n").status_code == 200
    office = send("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                  (DOCS / "testWORD.docx").read_bytes())
    assert office.status_code == 400 and "Unsupported MIME type" in office.json()["error"]["message"]
