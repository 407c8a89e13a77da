"""Independent tasks (one per track) in parallel worker processes: `parallel_map`, `default_jobs`.

`cunet prepare` and `cunet evaluate` share this pool. Workers are *spawned*, never forked:
TensorFlow is not fork-safe, and a spawned worker inherits no TensorFlow runtime, only the
pickled task function (a module-level function) and its arguments. An `initializer` loads
what every task of a worker needs once (models, methods).

N jobs share the machine's cores: each worker gets `cores // N` threads (at least one) for
TensorFlow's intra-op pool, its inter-op pool and numpy's BLAS/OpenMP, through the
environment it is spawned with (read before any of them starts), so two jobs on two cores
do not oversubscribe them.

A worker exits when the parent dies (even by SIGKILL) or terminates it; a task interrupted
so leaves no partial output behind (`cunet.fileio.atomic_path` removes its temporary file).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator, Optional, Sequence

from cunet.errors import CunetError

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)
_PARENT_POLL_SECONDS = 0.5


class WorkerError(CunetError):
    """A worker process stopped abruptly (killed, out of memory) or could not start."""


def available_cores() -> int:
    """The cores this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def available_memory() -> Optional[int]:
    """Bytes of memory available to new processes (Linux MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_jobs(worker_bytes: Optional[int] = None) -> int:
    """The default `--jobs`: the number of cores, bounded by available memory / `worker_bytes`."""
    jobs = available_cores()
    memory = available_memory()
    if worker_bytes and memory is not None:
        jobs = min(jobs, memory // worker_bytes)
    return max(1, int(jobs))


def threads_per_job(jobs: int) -> int:
    """The threads each of `jobs` workers may use: the cores shared out, at least one."""
    return max(1, available_cores() // max(1, jobs))


@contextlib.contextmanager
def _thread_environment(threads: int):
    """Set the thread-count variables spawned workers read; restore the parent's afterwards.

    The parent's own runtimes (TensorFlow, BLAS) read them when they started, so they do
    not change here."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ---------------------------------------------------------------------------------------
# In the worker

_stopping = False


def _stop(signum, frame):
    """SIGTERM: leave the running task by SystemExit (its `finally` blocks clean up), then exit."""
    global _stopping
    _stopping = True
    raise SystemExit(128 + signum)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        threading.Event().wait(_PARENT_POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)  # orphaned: the parent was killed


def _start_worker(parent: int, initializer: Optional[Callable], initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, _stop)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="cunet-parent-watch").start()
    if initializer is not None:
        initializer(*initargs)


def _run_task(function: Callable, task):
    try:
        return function(task)
    finally:
        if _stopping:  # the pool would hand a stopped worker its next queued task
            sys.stdout.flush()
            os._exit(143)


# ---------------------------------------------------------------------------------------
# In the parent


def _terminate(pool: ProcessPoolExecutor) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=30)


def parallel_map(
    function: Callable, tasks: Sequence, jobs: int, initializer: Optional[Callable] = None, initargs: tuple = ()
) -> Iterator[tuple]:
    """Yield `(index, function(tasks[index]))` for every task, as workers finish them.

    `function`, `initializer` and every argument must be picklable (module-level
    functions, plain data). `jobs` workers at most (no more than there are tasks), each
    running `initializer(*initargs)` once before its first task. If a task raises, the
    tasks not started are dropped, those running are finished (and yielded) and the first
    exception is raised. If the consumer stops early (an exception, Ctrl-C), the workers
    are terminated at once. Use it as `with contextlib.closing(parallel_map(...)) as results`.
    """
    tasks = list(tasks)
    if not tasks:
        return
    jobs = max(1, min(int(jobs), len(tasks)))
    with _thread_environment(threads_per_job(jobs)):
        pool = ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(), initializer, initargs),
        )
        # A spawn pool starts its workers as tasks are submitted: all of them start here.
        futures = {pool.submit(_run_task, function, task): index for index, task in enumerate(tasks)}
    failure, finished = None, False
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=futures.get):
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    yield futures[future], future.result()
                elif failure is None:
                    failure = error
                    for other in pending:
                        other.cancel()
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _terminate(pool)
    if isinstance(failure, BrokenProcessPool):
        raise WorkerError(
            f"a worker process stopped abruptly (killed, or out of memory?) after {len(futures)} task(s) "
            "were handed out; finished work is kept: run again to resume, with fewer --jobs if memory is short"
        ) from None
    if failure is not None:
        raise failure
