"""The web app's HTTP side: the page, the JSON API, and the files of each build.

Every build runs in a worker process (one heavy build never blocks the page or another build);
its files live in a folder named by a random token and are served only under fixed names.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from .. import prescription, warm
from ..errors import InputError
from ..resolution import check_resolution
from . import jobs
from .guard import LOCAL_NAMES, SameOrigin
from .limits import BodyLimit

STATIC = Path(__file__).parent / "static"
SIDES = ("left", "right")


class WebError(Exception):
    """A request answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Store:
    """Build folders under ``root``, each named by a random token; the oldest beyond ``keep`` are removed."""

    TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
    NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.(stl|glb|3mf|report\.json|nc|zip)")  # what a build offers; no '/' or '..'

    def __init__(self, root: Path, keep: int = 200) -> None:
        self.root, self.keep, self.tokens = root, keep, deque()

    def new(self) -> tuple[str, Path]:
        token = secrets.token_urlsafe(16)
        folder = self.root / token
        folder.mkdir()
        self.tokens.append(token)
        while len(self.tokens) > self.keep:
            shutil.rmtree(self.root / self.tokens.popleft(), ignore_errors=True)
        return token, folder

    def folder(self, token: str) -> Path | None:
        """The folder of a token this server made, or None."""
        if not self.TOKEN.fullmatch(token) or token not in self.tokens:
            return None
        return self.root / token

    @staticmethod
    def url(token: str, name: str) -> str:
        return f"/files/{token}/{name}"

    def files(self, token: str, stem: str) -> dict[str, str]:
        return {"stl": self.url(token, f"{stem}.stl"), "glb": self.url(token, f"{stem}.glb"),
                "3mf": self.url(token, f"{stem}.3mf"), "report": self.url(token, f"{stem}.report.json"),
                "gcode": self.url(token, f"{stem}.nc")}

    def mesh(self, url: str) -> tuple[str, Path, str] | None:
        """(token, folder, stem) of a mesh URL this server gave (``/files/<token>/<stem>.stl``), or None."""
        match = re.fullmatch(r"/files/([^/]+)/([a-z0-9][a-z0-9-]*)\.stl", url)
        folder = self.folder(match.group(1)) if match else None
        made = folder is not None and ((folder / f"{match.group(2)}.stl").is_file() or (folder / jobs.VIEW_JOB).is_file())
        if not made:
            return None
        return match.group(1), folder, match.group(2)


def create_app(workers: int | None = None, hosts: tuple[str, ...] = LOCAL_NAMES) -> FastAPI:
    """The app. ``workers``: build processes (default: the number of cores, at most 4);
    ``hosts``: the names it answers to (``("*",)``: any, for a server other machines reach)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        root = Path(tempfile.mkdtemp(prefix="insolegen-web-"))
        count = workers or min(4, os.cpu_count() or 1)
        app.state.pool, app.state.store, app.state.workers = _pool(count), Store(root), count
        app.state.completing = {}  # token -> the task making a screen build's files
        # the workers start with the server, so that the page's first insert need not wait for them; from a
        # thread, as each start waits for the forkserver to have loaded the build, and the server answers meanwhile
        asyncio.get_running_loop().run_in_executor(None, _warm_up, app.state.pool, count)
        try:
            yield
        finally:
            app.state.pool.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(root, ignore_errors=True)

    app = FastAPI(title="insolegen", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(BodyLimit)
    app.add_middleware(SameOrigin, hosts=hosts)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return JSONResponse({"error": str(exc).replace("\n", " ")}, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception):
        return JSONResponse({"error": f"internal fault ({type(exc).__name__}); please report it with the input that caused it"},
                            status_code=500)

    @app.get("/")
    async def page():
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    @app.get("/api/schema")
    async def schema():
        return prescription.json_schema()

    @app.get("/api/profiles")
    async def profiles():
        return {"profiles": [
            {"name": name, "description": prescription.profile_description(name),
             "prescription": prescription.resolve(name).model_dump(mode="json")}
            for name in prescription.profile_names()
        ], "default": prescription.Prescription().model_dump(mode="json")}

    @app.post("/api/build")
    async def build(request: Request):
        args = await _build_args(await _form(request))
        token, folder = app.state.store.new()
        doc = await _run(request, jobs.build, *args, str(folder))
        laid = doc.pop("pressure_map", None)  # the peak map under the insert (a build from load), not the report's
        return {"report": doc, "files": app.state.store.files(token, f"insert-{doc['side']}"), "pressure_map": laid}

    @app.post("/api/view")
    async def view(request: Request):
        """The page's build: the figures it shows and the mesh, in one answer (see :func:`_packed`);
        the files and the whole QA report are made on their first download."""
        args = await _build_args(await _form(request))
        token, folder = app.state.store.new()
        figures, mesh = await _run(request, jobs.view, *args, str(folder))
        figures["files"] = app.state.store.files(token, f"insert-{figures['side']}")
        return Response(_packed(figures, mesh), media_type="application/octet-stream")

    @app.post("/api/pair")
    async def pair(request: Request):
        form = await _form(request)
        rx, side, resolution, source = _prescription(form), _choice(form, "side", SIDES, "right"), _resolution(form), await _source(form)
        short_side = _choice(form, "short_side", SIDES, None)
        if source.scan:
            raise WebError(400, "a scan builds one insert (molded to that foot); build a pair from an outline")
        if source.pressure:
            raise WebError(400, f"{source.pressure.name}: a pressure recording is of one foot; build each insert from its own")
        token, folder = app.state.store.new()
        docs = await _run(request, jobs.build_pair, source, rx.model_dump_json(), side, short_side, resolution, str(folder))
        store = app.state.store
        return {s: {"report": docs[s], "files": store.files(token, f"insert-{s}")} for s in SIDES}

    @app.post("/api/batch")
    async def batch(request: Request):
        form = await _form(request)
        upload = await _upload(form, "batch")
        if upload is None:
            raise WebError(400, "batch: no file; send a zip of the manifest (.csv or .jsonl) and its outline files")
        token, folder = app.state.store.new()
        result = await _run(request, jobs.batch, upload, str(folder))
        return {**result, "files": {"zip": app.state.store.url(token, "batch.zip")}}

    @app.post("/api/mill")
    async def mill(request: Request):
        form = await _form(request)
        found = app.state.store.mesh(_text(form, "mesh") or "")
        if found is None:
            raise WebError(400, "mesh: give the STL link of a build from this server (files.stl); build again if it has expired")
        token, folder, stem = found
        await _complete(request, token, folder)
        options = _mill_options(form)
        name = f"{stem}-{hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:10]}.nc"
        report = await _run(request, jobs.mill, str(folder), stem, options, name)
        return {"report": report, "files": {"gcode": app.state.store.url(token, name)}}

    @app.get("/files/{token}/{name}")
    async def files(request: Request, token: str, name: str):
        folder = app.state.store.folder(token)
        if folder is None or not Store.NAME.fullmatch(name):
            raise WebError(404, "no such file; build again for fresh links")
        await _complete(request, token, folder)
        path = folder / name
        stem, suffix = name.rsplit(".", 1)[0], "." + name.rsplit(".", 1)[1]
        if not path.is_file() and (folder / f"{stem}.{jobs.MESH_KEEP}").is_file():  # made on first download
            if suffix in jobs.LAZY_FORMATS:
                await _run(request, jobs.mesh_format, str(folder), stem, suffix)
            elif suffix == ".nc":
                await _run(request, jobs.mill, str(folder), stem, {}, name)
        if not path.is_file():
            raise WebError(404, "no such file; build again for fresh links")
        return FileResponse(path, filename=name)

    return app


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=warm.context(jobs.__name__))


def _warm_up(pool: ProcessPoolExecutor, workers: int) -> None:
    for _ in range(workers):
        pool.submit(jobs.warm_up)


async def _build_args(form) -> tuple[jobs.Source, str, str, float]:
    """(source, prescription JSON, side, resolution) of a build's form."""
    rx, resolution, source = _prescription(form), _resolution(form), await _source(form)
    side = _choice(form, "side", (*SIDES, "auto") if source.scan else SIDES, "auto" if source.scan else "right")
    return source, rx.model_dump_json(), side, resolution


def _packed(figures: dict[str, Any], mesh: bytes) -> bytes:
    """The page's answer to a view: the figures' JSON length (uint32, little-endian), the JSON
    (padded with spaces to a multiple of 4 bytes), then the mesh (:func:`jobs.pack_mesh`;
    ``figures["vertices"]`` and ``figures["faces"]`` count it)."""
    figures["vertices"] = (len(mesh) - 12 * figures["faces"]) // 12
    text = json.dumps(figures).encode()
    text += b" " * (-len(text) % 4)
    return len(text).to_bytes(4, "little") + text + mesh


async def _complete(request: Request, token: str, folder: Path) -> None:
    """Make a screen build's files (once, however many downloads ask at the same time)."""
    if not (folder / jobs.VIEW_JOB).is_file():
        return
    completing = request.app.state.completing
    if token not in completing:
        task = asyncio.ensure_future(_run(request, jobs.complete, str(folder)))
        task.add_done_callback(lambda _: completing.pop(token, None))
        completing[token] = task
    await asyncio.shield(completing[token])


async def _form(request: Request):
    try:
        return await request.form(max_files=3, max_fields=50, max_part_size=2**20)
    except (ValueError, KeyError) as exc:
        raise WebError(400, f"the request is not a readable form ({exc}); send multipart/form-data") from None


def _text(form, name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, UploadFile):
        return None
    return str(value)


def _prescription(form) -> prescription.Prescription:
    """The prescription from the form's JSON text, checked as the command line checks it (422 if wrong)."""
    text = _text(form, "prescription")
    try:
        data = json.loads(text) if text and text.strip() else {}
    except json.JSONDecodeError as exc:
        raise WebError(400, f"prescription: not JSON ({exc.msg} at character {exc.pos}); send the fields nested, "
                            'e.g. {"arch": {"height_mm": 18}}') from None
    if not isinstance(data, dict):
        raise WebError(400, 'prescription: give a JSON object of sections, e.g. {"arch": {"height_mm": 18}}')
    # as dotted settings, so that values meet the same conversions and checks as `--set`
    settings = dict(_dotted(data))
    try:
        return prescription.resolve(None, settings, "prescription")
    except InputError as exc:
        raise WebError(422, str(exc)) from None


def _dotted(data: dict[str, Any], prefix: str = ""):
    """(dotted name, value) of every leaf of nested sections, e.g. ("zones.heel.infill_pct", 20)."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _dotted(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _choice(form, name: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = _text(form, name) or default
    if value not in allowed:
        raise WebError(400, f"{name} '{value or ''}' is not known; use {' or '.join(allowed)}")
    return value


def _number(form, name: str, default: float | None) -> float | None:
    text = _text(form, name)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise WebError(422, f"{name} = {text!r} is not a number") from None


MILL_NUMBERS = ("tool_diameter_mm", "stepover_mm", "feed_mm_per_min", "plunge_feed_mm_per_min", "spindle_rpm",
                "stock_top_mm", "allowance_mm", "safe_z_mm", "step_down_mm", "rough_stepover_mm")


def _mill_options(form) -> dict[str, Any]:
    """The milling options the form gives (MillOptions' fields; the rest keep their defaults)."""
    options: dict[str, Any] = {"tool": _choice(form, "tool", ("flat", "ball"), "flat")}
    for name in MILL_NUMBERS:
        value = _number(form, name, None)
        if value is not None:
            options[name] = value
    return options


def _resolution(form) -> float:
    try:
        return check_resolution(_number(form, "resolution", 1.0), "resolution")
    except InputError as exc:
        raise WebError(422, str(exc)) from None


async def _upload(form, name: str) -> jobs.Upload | None:
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    # the name the user gave, without any folder their browser sent and without control characters
    shown = re.sub(r"[\x00-\x1f\x7f]", "", value.filename.replace("\\", "/").rsplit("/", 1)[-1])[:120] or "upload"
    return jobs.Upload(shown, await value.read())


async def _source(form) -> jobs.Source:
    upload, scan = await _upload(form, "outline"), await _upload(form, "scan")  # both: the outline is the shoe's
    kind = _choice(form, "outline_kind", ("outline", "footprint"), "outline")
    units = _text(form, "units") or None
    if units is not None and units not in ("mm", "cm", "in"):
        raise WebError(400, f"units '{units}' is not known; use mm, cm or in")
    scan_units = _choice(form, "scan_units", ("auto", "mm", "cm", "m", "in"), "auto")
    shoe_size = _number(form, "shoe_size", None)
    size_system = _text(form, "size_system") or "eu"
    return jobs.Source(upload, kind, units, _number(form, "foot_length_mm", 265.0), _number(form, "foot_width_mm", 100.0),
                       scan, scan_units, shoe_size, size_system, await _upload(form, "pressure"))


async def _run(request: Request, job, *args) -> Any:
    """``job(*args)`` in the worker pool; an :class:`InputError` there answers 400 with its line.

    A worker that died (killed, out of memory) breaks the pool: a new one takes its place, so
    the next request is served."""
    if await request.is_disconnected():  # the page already moved on (a newer change aborted it)
        raise WebError(499, "the request was withdrawn")
    state = request.app.state
    pool = state.pool
    try:
        # submitted from a thread: a submit that starts a worker waits for the forkserver, the server does not
        future = await asyncio.get_running_loop().run_in_executor(None, pool.submit, job, *args)
        return await asyncio.wrap_future(future)
    except InputError as exc:
        raise WebError(400, str(exc).replace("\n", " ")) from None
    except BrokenProcessPool:
        if state.pool is pool:
            state.pool = _pool(state.workers)
            pool.shutdown(wait=False, cancel_futures=True)
        raise WebError(500, "the build's worker process stopped (out of memory?); try again, or a coarser mesh spacing") from None
