"""Job folders under the data dir: unguessable ids, a state file written last, stems, expiry.

    DATA_DIR/incoming/                uploads being received (cleared when the server starts)
    DATA_DIR/jobs/<id>/               id: secrets.token_urlsafe(16), checked on every request
        input.<suffix>                the upload (suffix from the allow-list; removed once separated)
        stems/input/<name>.wav        what `Separator.separate_file` writes (32-bit float wav)
        stems/input/<name>.<fmt>      other formats, converted from the wav on first download
        stems-<fmt>.zip               every stem in one zip, made on first download
        job.json                      the state, replaced atomically at every change

Every file is written atomically (`cunet.fileio.atomic_path`) and `job.json` says "done" only
after every stem is complete, so a restarted server never serves a half-written file.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import soundfile as sf

from cunet.audio.formats import check_writable
from cunet.audio.writing import AudioWriter
from cunet.fileio import atomic_path, atomic_write_text

STATUSES = ("queued", "running", "done", "failed")
INPUT_NAME = "input"  # the upload's file name in its job folder, without its suffix
STATE_FILE = "job.json"
_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # what secrets.token_urlsafe(16) gives
RESTART_ERROR = "the server restarted before this job finished; upload the song again"


@dataclass
class Job:
    """One separation request and its state (`status` one of `STATUSES`).

    `instruments` are specs in the CLI's syntax (empty: every instrument of the model);
    `stems` the output names in order once done; `name` the upload's display name only.
    """

    id: str
    name: str
    suffix: str
    instruments: list = field(default_factory=list)
    wiener: bool = False
    status: str = "queued"
    progress: float = 0.0
    error: str | None = None
    stems: list = field(default_factory=list)
    created: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def ended(self) -> bool:
        return self.status in ("done", "failed")


JOB_FIELDS = {f.name for f in fields(Job)}  # a state written by another version: its known keys


def new_job_id() -> str:
    return secrets.token_urlsafe(16)


def valid_job_id(text: str) -> bool:
    return bool(_ID.fullmatch(text))


class JobStore:
    """The jobs on disk under `root` (see the module docstring for the layout)."""

    def __init__(self, root):
        self.root = Path(root)
        self.jobs = self.root / "jobs"
        self.incoming = self.root / "incoming"
        self._locks: dict = {}
        self._locks_guard = threading.Lock()

    def prepare(self) -> None:
        """Create the folders, drop unfinished uploads, and fail jobs a restart interrupted."""
        self.jobs.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.incoming, ignore_errors=True)
        self.incoming.mkdir(parents=True)
        for folder in self.jobs.iterdir():
            job = self.load(folder.name)
            if job is None:  # created but never given its state: nothing in it can be trusted
                shutil.rmtree(folder, ignore_errors=True)
            elif not job.ended:
                job.status, job.error, job.finished = "failed", RESTART_ERROR, time.time()
                self.save(job)
                self.input_path(job).unlink(missing_ok=True)

    def folder(self, job_id: str) -> Path:
        if not valid_job_id(job_id):
            raise KeyError(job_id)
        return self.jobs / job_id

    def input_path(self, job: Job) -> Path:
        return self.folder(job.id) / f"{INPUT_NAME}{job.suffix}"

    def stems_dir(self, job: Job) -> Path:
        """The `out_dir` given to `separate_file` (which adds the `INPUT_NAME` folder)."""
        return self.folder(job.id) / "stems"

    def stem_path(self, job: Job, name: str, fmt: str) -> Path:
        return self.stems_dir(job) / INPUT_NAME / f"{name}.{fmt}"

    def zip_path(self, job: Job, fmt: str) -> Path:
        return self.folder(job.id) / f"stems-{fmt}.zip"

    def save(self, job: Job) -> None:
        atomic_write_text(self.folder(job.id) / STATE_FILE, json.dumps(asdict(job), indent=1))

    def load(self, job_id: str) -> Job | None:
        """The job saved under `job_id`, or None (invalid id, no such job, unreadable state)."""
        try:
            data = json.loads((self.folder(job_id) / STATE_FILE).read_text())
            return Job(**{key: value for key, value in data.items() if key in JOB_FIELDS})
        except (KeyError, OSError, ValueError, TypeError):
            return None

    def expire(self, keep_seconds: float, now: float | None = None) -> list:
        """Remove the jobs that ended more than `keep_seconds` ago; returns their ids."""
        now = time.time() if now is None else now
        removed = []
        for folder in self.jobs.iterdir():
            job = self.load(folder.name)
            if job is not None and job.ended and now - (job.finished or job.created) > keep_seconds:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(job.id)
        return removed

    def lock(self, path: Path) -> threading.Lock:
        """One lock per file made on demand, so two downloads never convert it twice at once."""
        with self._locks_guard:
            return self._locks.setdefault(str(path), threading.Lock())

    def stem_file(self, job: Job, name: str, fmt: str) -> Path:
        """The stem `name` of a done job in `fmt`, converted from its wav on first request."""
        wav = self.stem_path(job, name, "wav")
        if fmt == "wav":
            return wav
        target = self.stem_path(job, name, fmt)
        with self.lock(target):
            if not target.exists():
                convert_audio(wav, target, fmt, job.name)
        return target

    def zip_file(self, job: Job, fmt: str) -> Path:
        """Every stem of a done job in `fmt`, in one zip (stored: audio does not deflate)."""
        target = self.zip_path(job, fmt)
        with self.lock(target):
            if not target.exists():
                files = [self.stem_file(job, name, fmt) for name in job.stems]
                with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
                    for path in files:
                        archive.write(path, path.name)
        return target


def convert_audio(source: Path, target: Path, fmt: str, name: str = "", block: int = 1 << 18) -> None:
    """Rewrite an audio file in another output format, block by block and atomically, with
    the writer `cunet separate` uses (so the result equals `separate_file(fmt=fmt)`'s).
    Audio the format cannot hold is the CLI's `AudioError`, naming the song `name`."""
    with sf.SoundFile(str(source)) as f:
        check_writable(fmt, name or source.name, f.samplerate, f.channels)
    with sf.SoundFile(str(source)) as f, AudioWriter(target, f.samplerate, f.channels, fmt) as writer:
        while True:
            samples = f.read(block, dtype="float32", always_2d=True)
            if not len(samples):
                break
            writer.write(samples)
