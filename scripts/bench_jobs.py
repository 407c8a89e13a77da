"""`cunet prepare --jobs` and `cunet evaluate --jobs`: one job against N, alternated, on musdb-mini.

Runs the CLI in subprocesses into fresh folders, alternating 1 and N jobs `--rounds` times,
and prints one table: prepare in tracks per minute, evaluate in seconds per audio-minute for
each method (the mixture floor, the oracle IRM, a model), and the speed-up of N jobs (the
medians over rounds). Also prints the CPU model and the load average before and after.

    python scripts/bench_jobs.py                       # musdb-mini beside the repository, N = 2
    python scripts/bench_jobs.py --jobs 4 --eval-tracks 4 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUSDB_MINI = REPO.parent / "shared" / "musdb-mini"
METHODS = {
    "baseline-mixture": ["--baselines", "mixture"],
    "oracle-irm": ["--baselines", "irm"],
    "model-shipped": ["--model", str(REPO / "cunet" / "pretrained" / "cunet-default.keras"), "--baselines", "none"],
}


def timed(argv: list) -> float:
    """Wall seconds of `cunet <argv>` in a fresh process (its startup included)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cunet", *argv], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return "unknown"


def alternate(run, jobs: int, rounds: int) -> dict:
    """{1: [seconds...], jobs: [seconds...]}, 1 and `jobs` alternated `rounds` times."""
    times = {1: [], jobs: []}
    for _ in range(rounds):
        for j in (1, jobs):
            with tempfile.TemporaryDirectory(prefix="bench-jobs-") as folder:
                times[j].append(run(j, Path(folder) / "out"))
            print(f"  {j} job(s): {times[j][-1]:.1f} s (load {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--musdb-root", type=Path, default=MUSDB_MINI)
    parser.add_argument("--jobs", type=int, default=2, help="N, compared with 1 (default 2)")
    parser.add_argument("--rounds", type=int, default=2, help="times the pair is alternated (default 2)")
    parser.add_argument("--prepare-tracks", type=int, default=None, help="train tracks to cache (default all)")
    parser.add_argument("--eval-tracks", type=int, default=4, help="test tracks to score (default 4)")
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma list of: "
        + ", ".join(METHODS)
        + " (the model: the shipped one, on the runtime `cunet separate` takes: LiteRT)",
    )
    parser.add_argument("--skip-prepare", action="store_true")
    args = parser.parse_args()

    from cunet.musdb import discover_tracks, track_length

    load_before = os.getloadavg()
    rows = []  # (what, unit, values for 1 job, values for N jobs, higher_is_better)
    if not args.skip_prepare:
        tracks = discover_tracks(args.musdb_root, "train", limit=args.prepare_tracks)
        limit = ["--limit", str(args.prepare_tracks)] if args.prepare_tracks else []
        print("prepare", file=sys.stderr, flush=True)
        times = alternate(
            lambda j, out: timed(
                [
                    "prepare",
                    "--musdb-root",
                    str(args.musdb_root),
                    "--out",
                    str(out),
                    "--quiet",
                    "--jobs",
                    str(j),
                    *limit,
                ]
            ),
            args.jobs,
            args.rounds,
        )
        rows.append(
            (
                f"prepare, {len(tracks)} train tracks",
                "tracks/min",
                *[[60 * len(tracks) / t for t in times[j]] for j in (1, args.jobs)],
                True,
            )
        )
    tracks = discover_tracks(args.musdb_root, "test", limit=args.eval_tracks)
    minutes = sum(n / rate for n, rate, _ in map(track_length, tracks)) / 60
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}: choose from {', '.join(METHODS)}")
    for name in names:
        print(f"evaluate {name}", file=sys.stderr, flush=True)
        argv = [
            "evaluate",
            "--musdb-root",
            str(args.musdb_root),
            "--tracks",
            str(len(tracks)),
            "--no-progress",
            *METHODS[name],
        ]
        times = alternate(
            lambda j, out, argv=argv: timed([*argv, "--out", str(out), "--jobs", str(j)]), args.jobs, args.rounds
        )
        rows.append(
            (
                f"evaluate {name}, {len(tracks)} test tracks",
                "s/audio-min",
                *[[t / minutes for t in times[j]] for j in (1, args.jobs)],
                False,
            )
        )

    print(
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average before {load_before[0]:.2f}, "
        f"after {os.getloadavg()[0]:.2f}; {args.rounds} rounds, 1 and {args.jobs} jobs alternated"
    )
    header = ["what", "unit", "1 job (each round)", f"{args.jobs} jobs (each round)", "speed-up (medians)"]
    table = [header]
    for what, unit, one, many, higher in rows:
        ratio = statistics.median(many) / statistics.median(one)
        table.append(
            [
                what,
                unit,
                " ".join(f"{v:.1f}" for v in one),
                " ".join(f"{v:.1f}" for v in many),
                f"{ratio if higher else 1 / ratio:.2f}x",
            ]
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
