"""`cunet evaluate` on tiny generated MUSDB18 roots: scores, baselines, resume, silence, bad input.

museval solves one (targets x channels x 512)^2 system per track and method, so the
four-target tests use mono tracks and the stereo tests two targets, to stay fast.
"""

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cunet.audio.spectral import input_stft_settings
from cunet.cli import main
from cunet.config import load_config
from cunet.evaluation import EvaluationError
from cunet.evaluation import run as evaluation_run
from cunet.evaluation.baselines import ideal_ratio_mask_estimates
from cunet.evaluation.methods import Method, irm_method, mixture_method
from cunet.evaluation.run import evaluate_musdb, run_evaluation
from cunet.evaluation.scoring import METRICS, read_track_scores, track_json_path
from musdb_fixtures import make_musdb_root

TARGETS = ["vocals", "drums", "bass", "other"]


def _downmix_to_mono(root: Path) -> None:
    for path in root.rglob("*.wav"):
        audio, rate = sf.read(path, always_2d=True)
        sf.write(path, audio.mean(axis=1, keepdims=True), rate, subtype="FLOAT")


def _truth_method() -> Method:
    """The true sources plus noise 80 dB below them (exact copies score +inf, stored as NaN)."""

    def separate(track, targets):
        rng = np.random.default_rng(0)
        out = {}
        for t in targets:
            s = track.sources[t]
            out[t] = s + 1e-4 * np.std(s) * rng.standard_normal(s.shape).astype(np.float32)
        return out

    return Method("truth", "oracle", 0, "true sources + noise at -80 dB", "truth", separate)


def _read_csv(path: Path) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """One mono track, four targets, scored once for truth, mixture and IRM."""
    base = tmp_path_factory.mktemp("evaluate")
    root = make_musdb_root(base / "root", "wav", {"test": 1}, seconds=2.0, rate=22050)
    _downmix_to_mono(root)
    out = base / "out"
    methods = [_truth_method(), mixture_method(), irm_method()]
    result = evaluate_musdb(root, out, methods, TARGETS, is_wav=True, progress=False)
    return root, out, methods, result


def test_truth_floor_and_ceiling(scored):
    _, out, _, result = scored
    assert result.scored == 3 and result.reused == 0
    for target in TARGETS:
        truth = result.aggregate("truth", target, "SDR")
        floor = result.aggregate("baseline-mixture", target, "SDR")
        ceiling = result.aggregate("oracle-irm", target, "SDR")
        assert truth > 60, (target, truth)
        assert ceiling > floor, (target, ceiling, floor)
        assert truth > ceiling


def test_outputs_long_csv_summary_and_museval_json(scored):
    root, out, methods, result = scored
    rows = _read_csv(out / "results.csv")
    assert list(rows[0]) == ["method", "track", "target", "metric", "score"]
    keys = [(r["method"], r["track"], r["target"], r["metric"]) for r in rows]
    assert len(keys) == len(set(keys)) == 3 * 1 * 4 * 4
    assert {r["metric"] for r in rows} == set(METRICS)
    # the CSV score is the median over the JSON's frames
    track = result.tracks[0]
    stored = read_track_scores(track_json_path(out, "oracle-irm", "test", track), TARGETS)
    assert len(stored["vocals"]["SDR"]) == 2  # 2 s track: two 1 s frames
    csv_score = next(
        float(r["score"])
        for r in rows
        if r["method"] == "oracle-irm" and r["target"] == "vocals" and r["metric"] == "SDR"
    )
    assert csv_score == pytest.approx(np.nanmedian(stored["vocals"]["SDR"]), abs=1e-3)
    summary = _read_csv(out / "summary.csv")
    assert len(summary) == 3 * 4 * 4
    assert {(r["method"], r["parameters"]) for r in summary} == {
        ("truth", "0"),
        ("baseline-mixture", "0"),
        ("oracle-irm", "0"),
    }
    md = (out / "summary.md").read_text()
    assert "| baseline-mixture | baseline | 0 |" in md and "## SDR" in md
    assert (out / "sdr_boxplot.png").read_bytes()[:4] == b"\x89PNG"


def test_rerun_skips_scored_tracks_and_rescored_corrupt_json(scored, monkeypatch):
    root, out, methods, first = scored
    calls = []
    real = evaluation_run.score_estimates

    def counting(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation_run, "score_estimates", counting)
    again = evaluate_musdb(root, out, methods, TARGETS, is_wav=True, progress=False)
    assert calls == [] and again.reused == 3 and again.scores.equals(first.scores)

    path = track_json_path(out, "baseline-mixture", "test", first.tracks[0])
    path.write_text(path.read_text()[:200])  # an interrupted foreign write: truncated JSON
    third = evaluate_musdb(root, out, methods, TARGETS, is_wav=True, progress=False)
    assert calls == [first.tracks[0]] and third.scored == 1 and third.reused == 2
    assert read_track_scores(path, TARGETS) is not None
    assert third.scores.equals(first.scores)


def test_scores_of_another_model_under_the_same_name_are_refused(tmp_path):
    run_evaluation([], [Method("m", "model", 1, "first", "a", None)], TARGETS, tmp_path, progress=False)
    with pytest.raises(EvaluationError, match="different model"):
        run_evaluation([], [Method("m", "model", 1, "second", "b", None)], TARGETS, tmp_path, progress=False)


def test_stems_layout_baselines_through_cli(tmp_path, capsys):
    root = make_musdb_root(tmp_path / "root", "stems", {"test": 1}, seconds=2.0)
    out = tmp_path / "out"
    code = main(
        [
            "evaluate",
            "--musdb-root",
            str(root),
            "--out",
            str(out),
            "--targets",
            "vocals,bass",
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = _read_csv(out / "results.csv")
    assert len(rows) == 2 * 1 * 2 * 4
    sdr = {(r["method"], r["target"]): float(r["score"]) for r in rows if r["metric"] == "SDR"}
    for target in ("vocals", "bass"):
        assert sdr[("oracle-irm", target)] > sdr[("baseline-mixture", target)]
    track = "Fixture Test 00 - Tone Song"
    assert (out / "oracle-irm" / "test" / f"{track}.json").is_file()
    assert "oracle-irm" in capsys.readouterr().out


def test_silent_target_gives_nan_frames_not_a_crash(tmp_path, capsys):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 1}, seconds=2.0, rate=16000)
    folder = next((root / "test").iterdir())
    stems = {}
    for name in TARGETS:
        stems[name], rate = sf.read(folder / f"{name}.wav", always_2d=True)
    stems["vocals"][:] = 0
    sf.write(folder / "vocals.wav", stems["vocals"], rate, subtype="FLOAT")
    sf.write(folder / "mixture.wav", sum(stems.values()), rate, subtype="FLOAT")
    out = tmp_path / "out"
    code = main(
        [
            "evaluate",
            "--musdb-root",
            str(root),
            "--is-wav",
            "--out",
            str(out),
            "--targets",
            "vocals,bass",
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = _read_csv(out / "results.csv")
    assert len(rows) == 2 * 2 * 4
    for r in rows:
        if r["target"] == "vocals":
            assert np.isnan(float(r["score"])), r
        elif r["metric"] == "SDR":
            assert np.isfinite(float(r["score"])), r
    summary = _read_csv(out / "summary.csv")
    vocals = [r for r in summary if r["target"] == "vocals"]
    assert vocals and all(r["score"] == "nan" and r["tracks"] == "0" for r in vocals)


def test_irm_of_a_lone_source_returns_the_mixture():
    rate = 22050
    n_fft, hop = input_stft_settings(load_config().audio, rate)
    assert (n_fft, hop) == (2048, 512)  # 125 ms -> nearest power of two, hop ratio 1/4
    rng = np.random.default_rng(1)
    x = rng.standard_normal((rate, 2)).astype(np.float32)
    silent = np.zeros_like(x)
    est = ideal_ratio_mask_estimates(x, {"vocals": x, "bass": silent}, ["vocals", "bass"], n_fft, hop)
    assert est["vocals"].shape == x.shape
    np.testing.assert_allclose(est["vocals"], x, atol=1e-4)
    assert np.max(np.abs(est["bass"])) == 0


@pytest.fixture
def tiny_root(tmp_path):
    return make_musdb_root(tmp_path / "root", "wav", {"test": 1}, seconds=1.0, rate=8000)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--musdb-root", "{tmp}/nowhere"], "MUSDB18 root not found"),
        (["--musdb-root", "{root}", "--is-wav", "--targets", "vocals,piano"], "unknown target 'piano'"),
        (["--musdb-root", "{root}", "--is-wav", "--model", "{tmp}/notes.keras"], "not a cunet model"),
        (["--musdb-root", "{root}", "--is-wav", "--model", "{tmp}/missing.keras"], "model file not found"),
        (["--musdb-root", "{root}", "--is-wav", "--model", "{shipped_tflite}"], "give the .keras model"),
        (["--musdb-root", "{root}"], "add --is-wav"),
        (["--musdb-root", "{root}", "--is-wav", "--baselines", "oracle"], "unknown baseline 'oracle'"),
        (["--musdb-root", "{root}", "--is-wav", "--dedicated", "vocals"], "INSTRUMENT=PATH"),
        (["--musdb-root", "{root}", "--is-wav", "--tracks", "0"], "--tracks must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_root, tmp_path, capsys, argv, message):
    import zipfile

    with zipfile.ZipFile(tmp_path / "notes.keras", "w") as archive:
        archive.writestr("notes.txt", "not a model")
    from cunet.separation.runtimes import default_model_path

    shipped_tflite = default_model_path().with_suffix(".tflite")
    argv = [a.format(tmp=tmp_path, root=tiny_root, shipped_tflite=shipped_tflite) for a in argv]
    code = main(["evaluate", *argv, "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("cunet evaluate: error:") and message in err, err
    assert len(err.strip().splitlines()) == 1, err
