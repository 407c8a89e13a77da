"""The job queue: uploads wait in a bounded queue for worker threads sharing one `Separator`.

A worker runs exactly the CLI's flow, `Separator.separate_file(...)`, into the job's folder
(float wav; other formats are converted on download, `storage.JobStore.stem_file`), reports
its progress through the `progress(done_fraction)` callable, and saves the job's state last.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from cunet.errors import CunetError
from cunet.serve.storage import Job, JobStore

log = logging.getLogger("cunet.serve")


class QueueFull(CunetError):
    """The queue holds its maximum of waiting jobs."""


class JobQueue:
    """Jobs in submission order, run by `workers` threads on one loaded `Separator`.

    Args:
        separator: the loaded `cunet.Separator` every worker uses.
        store: where jobs live on disk (`JobStore`).
        max_queued: jobs that may wait at once; `submit` raises `QueueFull` beyond.
        workers: threads separating at once (1: the separator's own threads use the cores).
    """

    def __init__(self, separator, store: JobStore, max_queued: int = 16, workers: int = 1):
        self.separator = separator
        self.store = store
        self.max_queued = max_queued
        self.workers = workers
        self._queue: queue.Queue = queue.Queue()
        self._live: dict = {}  # id -> Job, while queued or running (progress lives here only)
        self._waiting: list = []  # ids of queued jobs, oldest first
        self._lock = threading.Lock()
        self._threads: list = []

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"cunet-serve-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        """End the workers once their running job is done, waiting up to `timeout` s for
        each; a job still running then, and every queued job, stays so on disk and is failed
        as interrupted by the next start (`JobStore.prepare`)."""
        with self._lock:
            self._waiting.clear()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def submit(self, job: Job, upload: Path) -> Job:
        """Queue a job: its folder made, the `upload` moved in (`store.input_path(job)`), its
        state saved; raises `QueueFull` (nothing made) when `max_queued` jobs wait already."""
        with self._lock:
            if len(self._waiting) >= self.max_queued:
                raise QueueFull(f"the queue is full ({self.max_queued} songs waiting); try again in a few minutes")
            self.store.folder(job.id).mkdir()
            upload.replace(self.store.input_path(job))
            self.store.save(job)
            self._live[job.id] = job
            self._waiting.append(job.id)
        self._queue.put(job.id)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job (live state while queued or running, else as saved), or None."""
        with self._lock:
            job = self._live.get(job_id)
        return job if job is not None else self.store.load(job_id)

    def position(self, job_id: str) -> int | None:
        """Jobs ahead of a queued job (0: it runs next), None when it is not waiting."""
        with self._lock:
            return self._waiting.index(job_id) if job_id in self._waiting else None

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                if job_id not in self._waiting:  # stopped meanwhile
                    continue
                self._waiting.remove(job_id)
                job = self._live[job_id]
                job.status = "running"
            try:
                self.store.save(job)
                self._separate(job)
            except Exception:  # its state could not be saved (disk full...): the worker goes on
                log.exception("job %s: cannot save its state", job.id)
            finally:
                with self._lock:
                    self._live.pop(job.id, None)

    def _separate(self, job: Job) -> None:
        source = self.store.input_path(job)
        try:
            written = self.separator.separate_file(
                source,
                self.store.stems_dir(job),
                job.instruments or None,
                residual=False,
                wiener=job.wiener,
                fmt="wav",
                overwrite=False,
                backend="auto",
                progress=lambda done: setattr(job, "progress", done),
            )
            job.stems, job.status, job.progress = list(written), "done", 1.0
        except CunetError as exc:
            job.status, job.error = "failed", str(exc).replace(str(source), job.name)
        except Exception as exc:  # a bug or a broken model: the job fails, the server keeps serving
            log.exception("job %s failed", job.id)
            job.status, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()
            source.unlink(missing_ok=True)
            self.store.save(job)
