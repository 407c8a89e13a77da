"""`cunet separate` as real processes: two runs into one folder, SIGTERM and SIGKILL while
writing, a full and a read-only filesystem. The embedded model on LiteRT (a quick start, no
TensorFlow import); a two-minute generated song keeps a run busy for a few seconds."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cunet.separation.runtimes import default_model_path

pytestmark = pytest.mark.skipif(
    not default_model_path().with_suffix(".tflite").is_file(), reason="the embedded model's .tflite is not installed"
)
NEEDS_FFMPEG = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="mp3 output needs ffmpeg")
INSTRUMENTS = ("drums", "vocals")
SELECT = ["-i", "drums", "-i", "vocals"]


@pytest.fixture(scope="module")
def long_song(tmp_path_factory):
    path = tmp_path_factory.mktemp("songs") / "long.wav"
    x = (0.1 * np.random.default_rng(0).standard_normal((44100 * 120, 2))).astype(np.float32)
    sf.write(path, x, 44100, subtype="PCM_16")
    return path


def _start(song, out, *options):
    return subprocess.Popen(
        [sys.executable, "-m", "cunet", "separate", str(song), *SELECT, "--out-dir", str(out), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _partials(out: Path) -> list:
    return sorted(out.rglob(".*cunet-partial-*")) if out.exists() else []


def _wait_for_partials(process, out: Path, timeout=120.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        found = _partials(out)
        if len(found) == len(INSTRUMENTS):
            return found
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"no partial outputs appeared: {process.communicate()}")


def _errors(stderr: str) -> list:
    return [line for line in stderr.splitlines() if not line.startswith("cunet separate: note:")]


def _complete(out: Path, song: Path) -> None:
    frames = sf.info(song).frames
    assert sorted(p.name for p in (out / "long").iterdir()) == [f"{n}.wav" for n in INSTRUMENTS]
    assert all(sf.info(out / "long" / f"{n}.wav").frames == frames for n in INSTRUMENTS)


def test_a_second_run_into_the_same_folder_is_refused_while_the_first_writes(tmp_path, long_song):
    out = tmp_path / "same"
    first = _start(long_song, out)
    _wait_for_partials(first, out)
    second = subprocess.run(
        [sys.executable, "-m", "cunet", "separate", str(long_song), *SELECT, "--out-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.poll() is None, "the first run ended before the second was checked: make the song longer"
    errors = _errors(second.stderr)
    assert second.returncode == 2 and len(errors) == 1, second.stderr
    assert "is being written by another cunet process" in errors[0] and str(out / "long") in errors[0]
    assert first.wait(timeout=300) == 0, first.communicate()
    _complete(out, long_song)
    assert _partials(out) == []
    again = subprocess.run(
        [sys.executable, "-m", "cunet", "separate", str(long_song), *SELECT, "--out-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # finished: refused, not replaced
    assert again.returncode == 2 and "output exists" in _errors(again.stderr)[0]


@pytest.mark.parametrize("fmt", ["wav", pytest.param("mp3", marks=NEEDS_FFMPEG)])
def test_sigterm_exits_143_with_one_line_and_leaves_nothing(tmp_path, long_song, fmt):
    out = tmp_path / "o"
    run = _start(long_song, out, "--format", fmt)
    _wait_for_partials(run, out)
    run.send_signal(signal.SIGTERM)
    code = run.wait(timeout=60)
    stderr = run.stderr.read()
    assert code == 143, stderr
    assert _errors(stderr) == ["cunet separate: terminated"]
    assert not out.exists()  # no partial file, and the folders it created are gone


def test_leftovers_of_a_killed_run_are_swept_by_the_next(tmp_path, long_song):
    out = tmp_path / "o"
    run = _start(long_song, out)
    left = _wait_for_partials(run, out)
    run.kill()
    run.wait(timeout=60)
    assert all(p.exists() for p in left)  # SIGKILL cannot be cleaned up after
    rerun = subprocess.run(
        [sys.executable, "-m", "cunet", "separate", str(long_song), *SELECT, "--out-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    _complete(out, long_song)
    assert _partials(out) == []


@pytest.fixture
def small_mount(tmp_path):
    """A 1 MiB tmpfs (root only; skipped where mount is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "mnt"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mount -t tmpfs is not allowed here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.mark.parametrize(
    "fmt, seconds", [("wav", 5), pytest.param("mp3", 40, marks=NEEDS_FFMPEG)]
)  # more than 1 MiB of output
def test_full_disk_is_one_line_and_leaves_nothing(small_mount, tmp_path, fmt, seconds):
    song = tmp_path / "short.wav"
    x = 0.1 * np.random.default_rng(1).standard_normal((44100 * seconds, 2))
    sf.write(song, x.astype(np.float32), 44100, subtype="PCM_16")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cunet",
            "separate",
            str(song),
            "-i",
            "vocals",
            "--out-dir",
            str(small_mount / "o"),
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = _errors(run.stderr)
    assert run.returncode == 2 and len(errors) == 1, run.stderr
    assert f"cannot write {small_mount / 'o' / 'short' / f'vocals.{fmt}'}: no space left on device" in errors[0]
    assert list(small_mount.iterdir()) == []


def test_read_only_filesystem_is_one_line(small_mount, tmp_path):
    song = tmp_path / "short.wav"
    sf.write(song, np.zeros((4410, 2), np.float32), 44100)
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    run = subprocess.run(
        [sys.executable, "-m", "cunet", "separate", str(song), "-i", "vocals", "--out-dir", str(small_mount / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    errors = _errors(run.stderr)
    assert run.returncode == 2 and len(errors) == 1, run.stderr
    assert "read-only file system" in errors[0] and str(small_mount / "o") in errors[0]
