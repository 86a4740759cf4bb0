"""``insolegen batch``: many inserts from a manifest, in parallel processes or on a Dask cluster.

A manifest is CSV or JSON Lines, one insert per row: ``id`` (the output stem), ``outline``
(a path relative to the manifest; empty for the built-in), ``units``, ``side``, ``profile``,
``resolution`` and any prescription field by its dotted name. Each worker writes its own
mesh and report and returns a one-line summary; a bad row fails alone.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import warm
from .errors import InputError

COLUMNS = {"id", "outline", "outline_kind", "units", "side", "profile", "resolution"}
SUMMARY_FIELDS = ["id", "status", "error", "seconds"]


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV or JSON Lines manifest, with empty CSV cells left out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: manifest not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc})") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}: line {number} is not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path}: line {number} is not a JSON object")
                rows.append(row)
    elif path.suffix.lower() == ".csv":
        rows = _csv_rows(text)
    else:
        raise InputError(f"{path}: a manifest is .csv or .jsonl, not '{path.suffix}'")
    if not rows:
        raise InputError(f"{path}: the manifest has no rows")
    if not any("id" in row for row in rows):
        raise InputError(f"{path}: the manifest has no 'id' column; give each row an id (its output file's stem)")
    return rows


_DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+$")


def _csv_rows(text: str) -> list[dict[str, str]]:
    """Rows of a CSV manifest, separated by commas, or by semicolons or tabs as spreadsheets save
    it in much of Europe (then "12,5" is 12.5); empty cells left out."""
    head = text.split("\n", 1)[0]
    sep = next((s for s in ("\t", ";") if s in head and "," not in head), ",")
    rows = []
    for row in csv.DictReader(io.StringIO(text), delimiter=sep):
        cells = {k.strip(): v.strip() for k, v in row.items() if k and isinstance(v, str) and v.strip()}
        if sep != ",":
            cells = {k: v.replace(",", ".") if _DECIMAL_COMMA.match(v) else v for k, v in cells.items()}
        rows.append(cells)
    return rows


def build_row(row: dict[str, Any], base: str, out_dir: str, force: bool = False) -> dict[str, Any]:
    """Build one manifest row; never raises for bad input: the summary carries the error."""
    from . import api, prescription
    from .build import check_resolution

    start = time.perf_counter()
    name = str(row.get("id", "")).strip()
    try:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise InputError(f"id {name!r} is not a usable file name; give a name without '/', '\\' or a leading '.'")
        unknown = [k for k in row if k not in COLUMNS and k not in prescription.FIELDS]
        if unknown:
            raise InputError(f"unknown column '{unknown[0]}'; use {', '.join(sorted(COLUMNS))} or a prescription field")
        settings = {k: prescription.parse_value(v) if isinstance(v, str) else v for k, v in row.items() if k in prescription.FIELDS}
        rx = prescription.resolve(row.get("profile"), settings, "manifest")
        outline_path = Path(base) / row["outline"] if row.get("outline") else None
        outline = api.load_outline(outline_path, row.get("units"), str(row.get("side", "right")), kind=str(row.get("outline_kind") or "outline"))
        resolution = check_resolution(row.get("resolution", 1.0), "resolution")
        mesh_path = Path(out_dir) / f"{name}.stl"
        report_path = mesh_path.with_name(f"{name}.report.json")
        if not force and mesh_path.is_file() and report_path.is_file():
            try:
                if json.loads(report_path.read_text()).get("build_key") == api.key_for(outline, rx, resolution):
                    return {"id": name, "status": "skipped", "error": "", "seconds": round(time.perf_counter() - start, 3)}
            except ValueError:
                pass
        insert = api.build(outline, rx, resolution=resolution)
        api.write(insert, mesh_path)
        return {"id": name, "status": "built", "error": "", "seconds": round(time.perf_counter() - start, 3)}
    except (InputError, ValueError) as exc:
        return {"id": name, "status": "failed", "error": str(exc).replace("\n", " "), "seconds": round(time.perf_counter() - start, 3)}


def run(manifest: str | Path, out_dir: str | Path, jobs: int, force: bool = False,
        progress: Callable[[Iterable], Iterable] | None = None, scheduler=None) -> list[dict[str, Any]]:
    """Build every row with ``jobs`` processes, or on a Dask cluster (``scheduler``: its address
    or a connected ``distributed.Client``); write ``batch-summary.csv``; return the summaries
    in manifest order."""
    from .export import write_bytes

    manifest = Path(manifest).resolve()
    rows = read_manifest(manifest)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    results: dict[int, dict[str, Any]] = {}
    todo = []
    for i, row in enumerate(rows):
        name = str(row.get("id", ""))
        if name in seen:
            results[i] = {"id": name, "status": "failed", "error": f"id '{name}' appears twice in the manifest", "seconds": 0.0}
        else:
            seen.add(name)
            todo.append(i)
    args = [(rows[i], str(manifest.parent), str(out_dir), force) for i in todo]
    if scheduler:
        done = _on_dask(connect(scheduler) if isinstance(scheduler, str) else scheduler, args)
    elif jobs <= 1:
        done = ((k, build_row(*a)) for k, a in enumerate(args))
    else:
        done = _on_processes(jobs, args)
    for k, summary in (progress or iter)(done):
        results[todo[k]] = summary
    ordered = [results[i] for i in range(len(rows))]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(ordered)
    write_bytes(out_dir / "batch-summary.csv", text.getvalue().encode())
    return ordered


Jobs = list[tuple[dict[str, Any], str, str, bool]]


def _on_processes(jobs: int, args: Jobs) -> Iterator[tuple[int, dict[str, Any]]]:
    """(position in args, summary) as the rows finish in ``jobs`` worker processes."""
    import multiprocessing
    import sys

    warm.load()  # once, here: the workers fork with the build loaded instead of each loading it
    # fork where it is the safe default (Linux), also where Python's default becomes another (3.14)
    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker) as pool:
        futures = {pool.submit(build_row, *a): k for k, a in enumerate(args)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:  # Ctrl-C: queued rows never start; running ones finish their atomic writes
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _start_worker() -> None:
    """A worker ignores Ctrl-C (a terminal sends it to the whole process group): the parent cancels
    the queued rows and waits for the running ones, whose writes are atomic. A worker interrupted
    mid-row would break the pool, and its shutdown could then hang.

    It also keeps freed memory for the next row: the command line holds glibc's mmap threshold at
    128 KiB (for one build's peak), which here would map and fault in every array of every row
    afresh, a third more time per row at 1 mm. Elsewhere (no glibc) nothing changes."""
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 64 * 2**20)  # M_MMAP_THRESHOLD: arrays under 64 MiB come from the heap
        libc.mallopt(-1, 256 * 2**20)  # M_TRIM_THRESHOLD: and the heap is not given back between rows
    except (OSError, AttributeError, TypeError):
        pass


def connect(address: str):
    """A ``distributed.Client`` on the scheduler at ``address`` (needs ``insolegen[dask]``)."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs Dask; install it with pip install 'insolegen[dask]'") from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"--scheduler {address}: cannot reach a Dask scheduler there ({exc}); check the address, e.g. tcp://host:8786") from None


def _on_dask(client, args: Jobs) -> Iterator[tuple[int, dict[str, Any]]]:
    """(position in args, summary) as the rows finish on the cluster's workers.

    Every worker must see the outline files and the output folder at the same paths
    (a shared file system): it reads and writes them itself and returns only the summary.
    """
    from distributed import as_completed as finished

    with client:
        futures = {client.submit(build_row, *a, pure=False): k for k, a in enumerate(args)}
        try:
            for future in finished(futures):
                yield futures[future], future.result()
        except BaseException:
            client.cancel(list(futures))
            raise
