"""The studio's ASGI app: one page (`static/`) and the HTTP API it uses (docs/serve.md).

    GET  /                                 the page
    GET  /api/info                         model, runtime, instruments, formats, upload limit
    POST /api/jobs                         multipart `file` (+ `instruments`..., `wiener`) -> {"id"}
    GET  /api/jobs/{id}                    status, progress, queue_position, error, stems
    GET  /api/jobs/{id}/stems/{name}.{fmt} one stem (wav, flac, and any other output format)
    GET  /api/jobs/{id}/stems.zip?format=  every stem in one zip

Errors are JSON `{"error": "one line"}`: 400 for bad input (the CLI's message), 404 for an
unknown or malformed id or stem, 409 for a job not done yet, 413 over the upload limit, 422
for a stem the format cannot hold (mp3: at most 2 channels, MPEG rates), 503 with the queue full.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cunet.audio.formats import WRITE_FORMATS
from cunet.audio.reading import probe_audio
from cunet.errors import CunetError
from cunet.serve.info import model_info
from cunet.serve.jobs import JobQueue, QueueFull
from cunet.serve.storage import Job, JobStore, new_job_id
from cunet.serve.uploads import UploadTooLarge, receive_upload

STATIC = Path(__file__).resolve().parent / "static"
# the page may load and connect to this server only (and play the remix it makes itself)
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
log = logging.getLogger("cunet.serve")
TRUE, FALSE = ("1", "true", "on", "yes"), ("", "0", "false", "off", "no")


def error(status: int, message: str, headers=None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def parse_wiener(values: list) -> bool:
    text = (values[-1] if values else "").strip().lower()
    if text not in TRUE + FALSE:
        raise CunetError(f"wiener must be true or false, got {text!r}")
    return text in TRUE


def check_audio(path: Path, name: str) -> None:
    """The CLI's first input check (`probe_audio`: decodable, not empty), its message naming
    `name`; the job runs the rest of the CLI's checks (e.g. NaN samples) and fails with them."""
    try:
        probe_audio(path)
    except CunetError as exc:
        raise CunetError(str(exc).replace(str(path), name)) from None


def job_json(job: Job, queue: JobQueue) -> dict:
    base = f"/api/jobs/{job.id}"
    stems = [
        {"name": name, "files": {fmt: f"{base}/stems/{quote(name, safe='')}.{fmt}" for fmt in WRITE_FORMATS}}
        for name in job.stems
    ]
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "progress": round(job.progress, 4),
        "queue_position": queue.position(job.id),
        "error": job.error,
        "instruments": job.instruments,
        "wiener": job.wiener,
        "stems": stems,
        "zip": f"{base}/stems.zip" if job.status == "done" else None,
    }


def same_origin(request: Request) -> bool:
    """A browser's request from this server's own page, or no browser at all (no Origin:
    curl, scripts). Another site's page could otherwise post songs to this server."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


class Studio:
    """The routes over one `JobQueue` and `JobStore`; `keep_hours` bounds how long results stay."""

    def __init__(
        self,
        separator,
        data_dir,
        model_path=None,
        max_upload_mb: float = 200,
        keep_hours: float = 24,
        max_queued: int = 16,
    ):
        self.separator = separator
        self.store = JobStore(data_dir)
        self.queue = JobQueue(separator, self.store, max_queued)
        self.info = model_info(separator, model_path)
        self.max_bytes = int(max_upload_mb * 1e6)
        self.keep_seconds = keep_hours * 3600
        self._stop = threading.Event()

    def routes(self) -> list:
        return [
            Route("/", self.page),
            Route("/api/info", self.api_info),
            Route("/api/jobs", self.post_job, methods=["POST"]),
            Route("/api/jobs/{job_id}", self.get_job),
            Route("/api/jobs/{job_id}/stems.zip", self.get_zip),
            Route("/api/jobs/{job_id}/stems/{filename}", self.get_stem),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        self.store.prepare()
        self.queue.start()
        janitor = threading.Thread(target=self._expire_loop, name="cunet-serve-expiry", daemon=True)
        janitor.start()
        try:
            yield
        finally:
            self._stop.set()
            self.queue.stop(timeout=5)

    def _expire_loop(self) -> None:
        while True:
            try:
                self.store.expire(self.keep_seconds)
            except OSError:  # the data dir unreadable for a moment: try again next round
                log.exception("expiring old jobs failed")
            if self._stop.wait(min(600.0, max(1.0, self.keep_seconds / 10))):
                return

    async def page(self, request: Request) -> Response:
        return FileResponse(
            STATIC / "index.html", media_type="text/html", content_disposition_type="inline", headers=PAGE_HEADERS
        )

    async def api_info(self, request: Request) -> Response:
        return JSONResponse({**self.info, "formats": list(WRITE_FORMATS), "max_upload_mb": self.max_bytes / 1e6})

    async def post_job(self, request: Request) -> Response:
        if not same_origin(request):
            return error(403, "uploads from other sites are refused (open the page this server serves)")
        try:
            upload = await receive_upload(request, self.store.incoming, self.max_bytes)
        except UploadTooLarge as exc:  # closing the connection: the rest of the body is never read
            return error(413, str(exc), headers={"Connection": "close"})
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening; the partial file is gone
        except CunetError as exc:
            return error(400, str(exc))
        try:
            instruments = [text for text in upload.fields.get("instruments", []) if text.strip()]
            if instruments:
                self.separator.parse_instruments(instruments)
            wiener = parse_wiener(upload.fields.get("wiener", []))
            await run_in_threadpool(check_audio, upload.path, upload.name)
            job = self.queue.submit(Job(new_job_id(), upload.name, upload.suffix, instruments, wiener), upload.path)
        except QueueFull as exc:
            return error(503, str(exc))
        except CunetError as exc:
            return error(400, str(exc))
        finally:
            upload.discard()
        return JSONResponse({"id": job.id}, status_code=202)

    def _job(self, request: Request):
        job = self.queue.get(request.path_params["job_id"])
        if job is None:
            raise LookupError("no such job (it may have expired)")
        return job

    async def get_job(self, request: Request) -> Response:
        try:
            job = self._job(request)
        except LookupError as exc:
            return error(404, str(exc))
        return JSONResponse(job_json(job, self.queue))

    async def get_stem(self, request: Request) -> Response:
        name, _, fmt = request.path_params["filename"].rpartition(".")
        try:
            job = self._job(request)
        except LookupError as exc:
            return error(404, str(exc))
        if job.status != "done":
            return error(409, f"the job is {job.status}: no stems to download")
        if fmt not in WRITE_FORMATS or name not in job.stems:
            return error(
                404,
                f"no such stem: {request.path_params['filename']!r} (stems: {', '.join(job.stems)}; "
                f"formats: {', '.join(WRITE_FORMATS)})",
            )
        try:
            path = await run_in_threadpool(self.store.stem_file, job, name, fmt)
        except CunetError as exc:  # e.g. mp3 cannot hold this rate or channel count
            return error(422, str(exc))
        return FileResponse(path, filename=f"{Path(job.name).stem}-{name}.{fmt}")

    async def get_zip(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "wav")
        try:
            job = self._job(request)
            if fmt not in WRITE_FORMATS:
                raise LookupError(f"unknown format {fmt!r} (choose from {', '.join(WRITE_FORMATS)})")
        except LookupError as exc:
            return error(404, str(exc))
        if job.status != "done":
            return error(409, f"the job is {job.status}: no stems to download")
        try:
            path = await run_in_threadpool(self.store.zip_file, job, fmt)
        except CunetError as exc:
            return error(422, str(exc))
        return FileResponse(path, filename=f"{Path(job.name).stem}-stems-{fmt}.zip")


def create_app(
    separator,
    data_dir,
    model_path=None,
    max_upload_mb: float = 200,
    keep_hours: float = 24,
    max_queued: int = 16,
    allowed_hosts=None,
) -> Starlette:
    """The studio app over a loaded `separator`, keeping jobs under `data_dir`. `allowed_hosts`
    (e.g. ["127.0.0.1", "localhost"]): the Host headers answered, others get 400 (a page of
    another site whose name resolves to this machine cannot read it); None: any."""
    studio = Studio(separator, data_dir, model_path, max_upload_mb, keep_hours, max_queued)
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)] if allowed_hosts else []
    app = Starlette(routes=studio.routes(), lifespan=studio.lifespan, middleware=middleware)
    app.state.studio = studio
    return app
