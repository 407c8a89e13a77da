"""Benchmark `cunet serve`: four 3-minute songs posted at once to a real server.

1. Four 3-minute stereo 44.1 kHz 16-bit wavs are generated from the bundled example
   (cunet/examples/bloom-lights-12s.ogg looped, each song with its own gain and start).
2. Sequential reference: one child process loads the model (LiteRT) and times four
   `Separator.separate_file` calls, every instrument, one after the other (loading excluded).
3. Server: `cunet serve` in a child process (LiteRT, the embedded model). Once it answers,
   the page's first load is timed (/, app.js, style.css, /api/info, each on a new
   connection, as a browser with an empty cache does), then the four songs are posted at
   once from four threads and polled until done; the time is from the first post to the
   last result. The server's peak RSS is its VmHWM from /proc (Linux).

This process and both children are pinned to the first two cores (`--cores`). Targets: all four done, server
peak RSS <= 500 MB, serve time <= 1.3x the sequential time, first page load < 1 s. Prints one
table, then `serve_4songs_seconds= sequential_seconds= peak_rss_mb=`.

    nice -n 10 .venv/bin/python scripts/bench_serve.py          # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "cunet" / "examples" / "bloom-lights-12s.ogg"
SONGS, SECONDS, RATE = 4, 180, 44100
BOUNDARY = "cunetbench"

SEQUENTIAL = """
import sys, time
from cunet.cli.separate import one_malloc_arena
from cunet.separation.separator import Separator
one_malloc_arena()
separator = Separator.load()
start = time.perf_counter()
for i, song in enumerate(sys.argv[2:]):
    separator.separate_file(song, f"{sys.argv[1]}/{i}", None, progress=False)
print(time.perf_counter() - start)
"""


def make_songs(folder: Path) -> list:
    from cunet.audio.reading import read_audio

    x, rate = read_audio(EXAMPLE)
    assert rate == RATE, rate
    songs = []
    for i in range(SONGS):
        loop = np.roll(x, i * rate // 3, axis=0) * (0.6 + 0.1 * i)
        song = np.tile(loop, (-(-SECONDS * rate // len(x)), 1))[: SECONDS * rate]
        path = folder / f"song{i}.wav"
        sf.write(str(path), song, rate, subtype="PCM_16")
        songs.append(path)
    return songs


def sequential_seconds(songs, out: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", SEQUENTIAL, str(out), *map(str, songs)], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, process, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and process.poll() is None:
        try:
            urllib.request.urlopen(url + "api/info", timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start: {process.stderr.read() if process.poll() is not None else ''}")


def page_load_seconds(url: str) -> float:
    start = time.perf_counter()
    for path in ("", "static/app.js", "static/style.css", "api/info"):
        urllib.request.urlopen(url + path, timeout=10).read()
    return time.perf_counter() - start


def post(url: str, song: Path) -> str:
    head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{song.name}"\r\n\r\n'
    body = head.encode() + song.read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()
    request = urllib.request.Request(
        url + "api/jobs",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    return json.load(urllib.request.urlopen(request, timeout=120))["id"]


def serve_four(url: str, songs) -> tuple[float, float, list]:
    """(seconds to the last result, seconds until every upload was accepted, statuses)."""
    ids: list = [None] * len(songs)
    start = time.perf_counter()

    def send(i):
        ids[i] = post(url, songs[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(songs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    uploaded = time.perf_counter() - start
    statuses = {}
    while len(statuses) < len(ids):
        for job_id in ids:
            job = json.load(urllib.request.urlopen(f"{url}api/jobs/{job_id}", timeout=10))
            if job["status"] in ("done", "failed"):
                statuses[job_id] = job["status"]
        time.sleep(0.5)  # a page polls its one job every 0.4 s
    return time.perf_counter() - start, uploaded, list(statuses.values())


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2, help="cores the children are pinned to (default 2)")
    args = parser.parse_args()
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cores])  # the children inherit it
    with tempfile.TemporaryDirectory(prefix="cunet-bench-serve-") as tmp:
        tmp = Path(tmp)
        songs = make_songs(tmp)
        sequential = sequential_seconds(songs, tmp / "sequential")
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        server = subprocess.Popen(
            [sys.executable, "-m", "cunet", "serve", "--port", str(port), "--data-dir", str(tmp / "data")],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_up(url, server)
            first_load = page_load_seconds(url)
            seconds, uploaded, statuses = serve_four(url, songs)
            peak = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    done = statuses.count("done")
    rows = [
        ("songs done", f"{done} of {SONGS}", f"{SONGS} of {SONGS}", done == SONGS),
        ("server peak RSS (MB)", f"{peak:.0f}", "<= 500", peak <= 500),
        (
            "4 songs via the server (s)",
            f"{seconds:.1f}",
            f"<= {1.3 * sequential:.1f} (1.3x)",
            seconds <= 1.3 * sequential,
        ),
        ("  of which uploads (s)", f"{uploaded:.1f}", "", True),
        ("4 separate_file calls (s)", f"{sequential:.1f}", "", True),
        ("serve / sequential", f"{seconds / sequential:.2f}", "<= 1.30", seconds <= 1.3 * sequential),
        ("page first load (s)", f"{first_load:.3f}", "< 1", first_load < 1),
    ]
    print(f"cunet serve: {SONGS} x {SECONDS} s stereo 44.1 kHz songs posted at once, {args.cores} cores, LiteRT")
    print(f"{'measure':<28} {'value':>10}  {'target':<18} ok")
    for name, value, target, ok in rows:
        print(f"{name:<28} {value:>10}  {target:<18} {'yes' if ok else 'NO'}")
    print(f"serve_4songs_seconds={seconds:.2f} sequential_seconds={sequential:.2f} peak_rss_mb={peak:.0f}")
    return 0 if done == SONGS else 1


if __name__ == "__main__":
    sys.exit(main())
