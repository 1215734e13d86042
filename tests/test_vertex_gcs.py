"""Issue 12 item 4: Vertex reads gs:// itself, and Vertex credentials from Application Default Credentials.

A private stack (its own web and worker) on the GCS emulator, pointed at a Vertex simulator of its own that
accepts only the token google-auth mints: the workers find a service-account key by
GOOGLE_APPLICATION_CREDENTIALS (no VERTEX_ACCESS_TOKEN, no GOOGLE_CLOUD_PROJECT: the key's project is used),
and google-auth exchanges a signed JWT for the token at the key's ``token_uri``, a local OAuth endpoint here.
A gs:// source of a kind and format Vertex takes is sent as ``fileData.fileUri`` without being downloaded;
an output staged to GCS (FERRY_STAGING) is sent by its gs:// URI too.
"""
from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage as gcs_lib

from app.simulators import vertex_sim
from app.simulators.server import SimServer
from tests.conftest import CORPUS
from tests.helpers import data_uri, image_part, job_body
from tests.services import Service, gcs_emulator
from tests.stack import Stack

BUCKET = f"ferry-vertex-{uuid.uuid4().hex[:8]}"
PROJECT = "adc-project"
TOKEN = "ya29.adc-" + uuid.uuid4().hex[:12]
IMAGES = CORPUS / "images"
PDF = CORPUS / "pdf" / "pdflatex-4-pages.pdf"


class _TokenEndpoint(http.server.BaseHTTPRequestHandler):
    """OAuth 2 token endpoint: a JWT-bearer grant (RFC 7523, what google-auth's service account sends) -> TOKEN."""

    grants: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        type(self).grants.append(body)
        ok = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer" in body and "assertion=" in body
        answer = {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"} if ok else {"error": "invalid"}
        data = json.dumps(answer).encode()
        self.send_response(200 if ok else 400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def world(sims: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    oauth = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    threading.Thread(target=oauth.serve_forever, daemon=True).start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    sa = tmp_path_factory.mktemp("adc") / "service-account.json"
    sa.write_text(json.dumps({"type": "service_account", "project_id": PROJECT, "private_key_id": "k1",
                              "private_key": pem, "client_email": f"ferry@{PROJECT}.iam.gserviceaccount.com",
                              "client_id": "1", "token_uri": f"http://127.0.0.1:{oauth.server_address[1]}/token"}))
    vertex = SimServer(vertex_sim.create_app(api_key=TOKEN, project=PROJECT))
    with gcs_emulator() as gcs:
        bucket = gcs_lib.Client(project="test", credentials=AnonymousCredentials(),
                                client_options={"api_endpoint": gcs.url}).create_bucket(BUCKET)
        for name, path, mime in (("in/hopper.png", IMAGES / "hopper.png", "image/png"),
                                 ("in/hopper.bmp", IMAGES / "hopper.bmp", "image/bmp"),
                                 ("in/report.pdf", PDF, "application/pdf"),
                                 ("secret/hopper.png", IMAGES / "hopper.png", "image/png")):
            bucket.blob(name).upload_from_filename(str(path), content_type=mime)
        env = {**gcs.env, "GOOGLE_APPLICATION_CREDENTIALS": str(sa), "VERTEX_ACCESS_TOKEN": "",
               "GOOGLE_CLOUD_PROJECT": "", "VERTEX_BASE_URL": vertex.url,
               "FERRY_SOURCE_BUCKETS": f"gs://{BUCKET}/in", "FERRY_STAGING": f"gs://{BUCKET}/stage"}
        stack = Stack(env, prefix="ferry-vertex-gcs-")
        try:
            stack.worker()
            yield {"stack": stack, "vertex": vertex, "gcs": gcs}
        finally:
            stack.close()
            vertex.stop()
            oauth.shutdown()


def calls(sim: SimServer) -> list[dict[str, Any]]:
    return [e for e in sim.state.log() if e["path"].startswith("/v1/projects/")]


def test_a_gs_source_is_sent_as_its_uri_not_downloaded(world):
    stack, vertex = world["stack"], world["vertex"]
    uri, pdf = f"gs://{BUCKET}/in/hopper.png", f"gs://{BUCKET}/in/report.pdf"
    job = stack.run(job_body("vertex/gemini-2.5-flash", image_part(uri), {"type": "file", "file": {"file_id": pdf}}),
                    timeout=90)
    assert job["status"] == "succeeded", job.get("error")
    for res, ref, path in zip(job["resources"], (uri, pdf), (IMAGES / "hopper.png", PDF)):
        assert res["delivery"]["method"] == "storage" and res["delivery"]["ref"] == ref
        assert res["source"].get("sha256") is None and res["source"]["bytes"] == path.stat().st_size
        assert any("not downloaded" in n for n in res["notes"]) and res["transforms"] == []
    sent = calls(vertex)[-1]["parts"]
    assert [(p["kind"], p["source"], p["declared_mime"], p["ref"]) for p in sent[1:]] == [
        ("image", "url", "image/png", uri), ("document", "url", "application/pdf", pdf)]
    assert calls(vertex)[-1]["path"] == \
        f"/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    assert _TokenEndpoint.grants, "google-auth never asked the token endpoint"


def test_a_gs_source_vertex_cannot_read_as_is_is_fetched_and_converted(world):
    stack, vertex = world["stack"], world["vertex"]
    job = stack.run(job_body("vertex/gemini-2.5-flash", image_part(f"gs://{BUCKET}/in/hopper.bmp")), timeout=90)
    assert job["status"] == "succeeded", job.get("error")
    res = job["resources"][0]
    assert res["source"]["sha256"] and res["delivery"]["method"] == "inline"  # downloaded, BMP -> PNG/JPEG
    assert calls(vertex)[-1]["parts"][1]["mime"] in ("image/png", "image/jpeg")


def test_claude_on_vertex_gets_gs_sources_inline(world):
    stack, vertex = world["stack"], world["vertex"]
    job = stack.run(job_body("vertex/claude-haiku-4-5@20251001", image_part(f"gs://{BUCKET}/in/hopper.png")),
                    timeout=90)
    assert job["status"] == "succeeded", job.get("error")
    assert job["resources"][0]["delivery"]["method"] == "inline"
    assert calls(vertex)[-1]["parts"][1]["source"] == "inline"


def test_a_gcs_staged_output_is_sent_by_its_uri(world):
    stack, vertex = world["stack"], world["vertex"]
    job = stack.run(job_body("vertex/gemini-2.5-flash", image_part(data_uri(IMAGES / "hopper.jpg", "image/jpeg")),
                             delivery={"prefer": "storage"}), timeout=90)
    assert job["status"] == "succeeded", job.get("error")
    ref = job["resources"][0]["delivery"]["ref"]
    assert job["resources"][0]["delivery"]["method"] == "storage" and ref.startswith(f"gs://{BUCKET}/stage/")
    assert ref in calls(vertex)[-1]["parts"][1]["label"]


def test_gs_sources_outside_the_allow_list_are_refused(world):
    job = world["stack"].run(job_body("vertex/gemini-2.5-flash", image_part(f"gs://{BUCKET}/secret/hopper.png")))
    assert job["status"] == "failed" and "FERRY_SOURCE_BUCKETS" in job["error"]["message"]
