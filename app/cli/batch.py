"""``ferry batch`` and ``ferry models``: the CLI commands that talk to a running Ferry.

``ferry batch DIR`` sends every image and PDF in a folder as its own job (a few at a
time), shows a live progress bar and appends one JSON line per finished file to
``--out``. The results file is the checkpoint: after Ctrl-C, the same command skips
every file already in it (``--retry-failed`` re-runs the failed ones).
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli.batch_native import run as run_native
from app.cli.client import TERMINAL, FerryClient, media_part
from workers.media.sniff import sniff_mime
from workers.core.settings import LOCAL_API_KEY

console = Console()
url_option = click.option("--url", envvar="FERRY_URL", default="http://127.0.0.1:8000", show_default=True,
                          help="Ferry's base URL (env FERRY_URL).")
key_option = click.option("--key", envvar="FERRY_API_KEY", default=LOCAL_API_KEY, show_default=True,
                          help="Your Ferry API key (env FERRY_API_KEY).")


def media_files(directory: Path, recursive: bool) -> Iterator[Path]:
    """Images and PDFs, by their bytes (not their names), in a stable order."""
    paths = directory.rglob("*") if recursive else directory.iterdir()
    for path in sorted(p for p in paths if p.is_file() and not p.name.startswith(".")):
        with path.open("rb") as fh:
            mime = sniff_mime(fh.read(8192)) or ""
        if mime.startswith("image/") or mime == "application/pdf":
            yield path


def finished(out: Path, retry_failed: bool) -> set[str]:
    """Files already answered in the results file (a torn last line from a kill is ignored)."""
    done: set[str] = set()
    if not out.exists():
        return done
    for line in out.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "file" in item and (item.get("status") == "succeeded" or not retry_failed):
            done.add(item["file"])
    return done


def drop_torn_tail(out: Path) -> None:
    """A kill mid-write can leave half a line; cut it so appended results start on a line of their own."""
    if not out.exists():
        return
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        with out.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def result_line(name: str, job: dict[str, Any]) -> dict[str, Any]:
    result = job.get("result") or {}
    choices = result.get("choices") or [{}]
    return {"file": name, "job_id": job["id"], "status": job["status"], "model": job.get("model"),
            "content": (choices[0].get("message") or {}).get("content"), "usage": result.get("usage"),
            "error": job.get("error"), **({"provider_request": job["provider_request"]}
                                          if job.get("dry_run") and "provider_request" in job else {})}


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model", "-m", required=True, help="provider/model, e.g. gemini/gemini-2.5-flash")
@click.option("--prompt", "-p", default="Describe this.", show_default=True)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=Path("results.jsonl"),
              show_default=True, help="JSONL results; also the checkpoint for resuming.")
@click.option("--detail", type=click.Choice(["auto", "low", "high"]), default="auto", show_default=True)
@click.option("--concurrency", "-c", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Jobs in flight at once.")
@click.option("--recursive", "-r", is_flag=True, help="Include subfolders.")
@click.option("--retry-failed", is_flag=True, help="Run files again whose earlier result was a failure.")
@click.option("--dry-run", is_flag=True, help="Build each provider request without calling the provider (jobs mode).")
@click.option("--mode", type=click.Choice(["native", "jobs"]), default="native", show_default=True,
              help="native: one /v1/batches batch through the providers' batch APIs (half price; other providers "
                   "run as jobs); jobs: every file its own synchronous job.")
@url_option
@key_option
def batch(directory: Path, model: str, prompt: str, out: Path, detail: str, concurrency: int, recursive: bool,
          retry_failed: bool, dry_run: bool, mode: str, url: str, key: str) -> None:
    """Run every image and PDF in DIRECTORY (a native batch, or one job each); append results to --out (resumable)."""
    client = FerryClient(url, key)
    files = list(media_files(directory, recursive))
    names = {f: f.relative_to(directory).as_posix() for f in files}
    drop_torn_tail(out)
    done = finished(out, retry_failed)
    todo = [f for f in files if names[f] not in done]
    skipped = len(files) - len(todo)
    failures = 0
    in_flight: dict[str, Path] = {}
    pending = iter(todo)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[note]}"))
    try:
        with out.open("a") as sink, Progress(*columns, console=console) as progress:
            bar = progress.add_task(model, total=len(files), completed=skipped,
                                    note=f"{skipped} already done" if skipped else "")
            if mode == "native" and not dry_run and todo:
                failures = run_native(client, todo, names, model, prompt, detail, sink, progress, bar, "auto")
            while mode == "jobs" or dry_run:
                while len(in_flight) < concurrency and (path := next(pending, None)) is not None:
                    content = [{"type": "text", "text": prompt}, media_part(path, detail)]
                    body = {"request": {"model": model, "messages": [{"role": "user", "content": content}]},
                            "dry_run": dry_run, "metadata": {"file": names[path]}}
                    try:
                        in_flight[client.submit(body)["id"]] = path
                    except RuntimeError as exc:  # refused at once (e.g. a model that takes no PDFs)
                        failures += 1
                        sink.write(json.dumps({"file": names[path], "job_id": None, "status": "failed",
                                               "model": model, "error": str(exc)}) + "\n")
                        sink.flush()
                        progress.advance(bar)
                if not in_flight:
                    break
                for job_id in list(in_flight):
                    job = client.get(job_id)
                    if job["status"] not in TERMINAL:
                        continue
                    path = in_flight.pop(job_id)
                    failures += job["status"] != "succeeded"
                    sink.write(json.dumps(result_line(names[path], job)) + "\n")
                    sink.flush()
                    progress.advance(bar)
                    progress.update(bar, note=f"{failures} failed" if failures else "")
                time.sleep(0.2)
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]: results so far are in {out}; run the same command to resume")
        raise SystemExit(130) from None
    console.print(f"{len(todo)} run, {skipped} skipped, {failures} failed → {out}")
    if failures:
        raise SystemExit(1)


@click.command()
@click.option("--vision", is_flag=True, help="Only models that take images.")
@click.option("--output", "output_modalities", type=click.Choice(["text", "image", "audio"]), default=None,
              help="Only models that produce this.")
@click.option("--feature", "features", multiple=True, help="Only models with this feature (pdf, audio_input, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print the raw /v1/models answer.")
@url_option
@key_option
def models(vision: bool, output_modalities: str | None, features: tuple[str, ...], as_json: bool, url: str,
           key: str) -> None:
    """List the models Ferry knows, with what they take and how media reaches them."""
    wanted = [*features, *(["vision"] if vision else [])]
    params = {**({"supported_parameters": ",".join(wanted)} if wanted else {}),
              **({"output_modalities": output_modalities} if output_modalities else {})}
    try:
        data = FerryClient(url, key).models(**params)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("model", "inputs", "outputs", "features", "delivery")
    for m in data["data"]:
        arch = m.get("architecture") or {}
        delivery = "; ".join(f"{k}: {','.join(v)}" for k, v in (m.get("delivery") or {}).items())
        table.add_row(m["id"], ",".join(arch.get("input_modalities", [])), ",".join(arch.get("output_modalities", [])),
                      ",".join(arch.get("features", [])), delivery)
    Console(width=200).print(table)
