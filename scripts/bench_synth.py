"""`cunet synth` speed and memory: seconds of finished songs per second of wall time, 1 job and N.

Renders `--tracks` procedural songs of `--seconds` each with `cunet synth` in a fresh process
(start-up, SoundFont loading, the sung voice, effects and writing included: 44.1 kHz stereo, all
stems), first with one job, then the same songs with `--jobs N` into another folder, and prints
one table: wall seconds, the real-time factor (song seconds / wall seconds), the speed-up of N
jobs, the CPU seconds used (less sensitive to a busy machine than wall time) and the peak
resident memory of the largest process (a worker: one job's peak). The last line is
machine-readable. Targets: >= 10x real time with one job, N=2 >= 1.7x one job, < 1 GB
per job. A shared machine makes these figures noisy: the load average is printed before and after.
The default is a dozen songs, as a data set is many: with 4 songs over 2 workers the last song
runs alone for a large share of the wall time, and the speed-up measures that tail.

    python scripts/bench_synth.py                      # 12 songs of 60 s, N = 2
    python scripts/bench_synth.py --tracks 4 --seconds 120 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def render(out: Path, tracks: int, seconds: float, jobs: int, seed: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all processes) of `cunet synth` rendering `tracks` songs into
    `out` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cunet",
            "synth",
            str(out),
            "--tracks",
            str(tracks),
            "--seconds",
            str(seconds),
            "--seed",
            str(seed),
            "--jobs",
            str(jobs),
            "--quiet",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    load_before = os.getloadavg()
    audio = args.tracks * args.seconds
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        one, one_cpu = render(Path(tmp) / "one", args.tracks, args.seconds, 1, args.seed)
        many, many_cpu = render(Path(tmp) / "many", args.tracks, args.seconds, args.jobs, args.seed)
        same = all(
            (Path(tmp) / "one" / p.relative_to(Path(tmp) / "many")).read_bytes() == p.read_bytes()
            for p in (Path(tmp) / "many").rglob("*.wav")
        )
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    factor, speedup = audio / one, one / many
    print(f"cpu cores {os.cpu_count()}, load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{args.tracks} songs x {args.seconds:g} s = {audio:g} s of audio (44.1 kHz stereo, 4 stems + mixture)")
    print("| jobs | wall s | real-time factor | speed-up | CPU s | audio s per CPU s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| 1 | {one:.1f} | {factor:.2f}x | 1.00 | {one_cpu:.1f} | {audio / one_cpu:.2f} |")
    print(
        f"| {args.jobs} | {many:.1f} | {audio / many:.2f}x | {speedup:.2f} | {many_cpu:.1f} | {audio / many_cpu:.2f} |"
    )
    print(f"peak memory of one process: {peak_mb:.0f} MB; {args.jobs}-job output identical to 1-job: {same}")
    print(f"synth_realtime_factor={factor:.2f} synth_jobs{args.jobs}_speedup={speedup:.2f} peak_rss_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
