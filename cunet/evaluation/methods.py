"""The methods `cunet evaluate` compares: each turns a decoded track into one estimate per target.

A saved model goes through `cunet.Separator` (exactly what `cunet separate` writes, no
rescaling); four dedicated U-Nets are assembled into one method; the mixture is the floor
and the oracle ratio mask the ceiling (`cunet.evaluation.baselines`).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

from cunet.audio.spectral import input_stft_settings
from cunet.config import AudioConfig, load_config
from cunet.evaluation import EvaluationError
from cunet.evaluation.baselines import IRM, MIXTURE, ideal_ratio_mask_estimates, mixture_estimates
from cunet.model.files import count_parameters, require_keras_file
from cunet.musdb import STEMS, TrackAudio
from cunet.separation.separator import Separator

DEFAULT_TARGETS = STEMS


@dataclass
class Method:
    """One row of the comparison table.

    Args:
        name: the method's name in tables and its folder under the output directory.
        kind: "model", "dedicated", "baseline" (the floor) or "oracle" (the ceiling).
        parameters: parameter count (0 for baselines; the sum of the models for "dedicated").
        description: one line saying what the method is.
        fingerprint: identifies what produced stored scores (model file hashes, settings),
            so scores of a different model under the same name are never mixed in.
        separate: `separate(track: TrackAudio, targets) -> {target: (samples, channels)}`.
        config: the model's `Config`, if any.
        recipe: a picklable `recipe() -> Method` that builds this method again (in a
            `--jobs` worker process, models loaded there); None: it runs in this process only.
    """

    name: str
    kind: str
    parameters: int
    description: str
    fingerprint: str
    separate: Callable[[TrackAudio, Sequence[str]], dict] = field(repr=False)
    config: Optional[object] = field(default=None, repr=False)
    recipe: Optional[Callable[[], "Method"]] = field(default=None, repr=False)


def check_targets(targets: Sequence[str]) -> list:
    """`targets` stripped and checked: MUSDB18 stems, at least one, none twice."""
    targets = [t.strip() for t in targets if t.strip()]
    unknown = [t for t in targets if t not in STEMS]
    if unknown:
        raise EvaluationError(f"unknown target {', '.join(map(repr, unknown))} (MUSDB18 targets: {', '.join(STEMS)})")
    if not targets:
        raise EvaluationError(f"no targets given (MUSDB18 targets: {', '.join(STEMS)})")
    if len(set(targets)) != len(targets):
        raise EvaluationError(f"a target is given twice: {', '.join(targets)}")
    return targets


def mixture_method() -> Method:
    """The floor: the mixture as the estimate of every target."""
    return Method(
        name=MIXTURE,
        kind="baseline",
        parameters=0,
        description="floor: the mixture as the estimate of every target",
        fingerprint="mixture",
        separate=lambda track, targets: mixture_estimates(track.mixture, targets),
        recipe=mixture_method,
    )


def irm_method(audio: Optional[AudioConfig] = None) -> Method:
    """The oracle ratio mask at the STFT a Separator with `audio` settings masks.

    `audio` defaults to the default config's (the paper's: 125 ms window, 31.25 ms hop);
    other window durations get their own method name, e.g. `oracle-irm-31.25ms`.
    """
    default = load_config().audio
    audio = audio or default
    window_ms = 1000.0 * audio.n_fft / audio.sample_rate
    hop_ms = 1000.0 * audio.hop_length / audio.sample_rate
    same = audio.n_fft * default.sample_rate == default.n_fft * audio.sample_rate and (
        audio.hop_length * default.n_fft == default.hop_length * audio.n_fft
    )

    def separate(track: TrackAudio, targets):
        n_fft, hop = input_stft_settings(audio, track.rate)
        return ideal_ratio_mask_estimates(track.mixture, track.sources, targets, n_fft, hop)

    return Method(
        name=IRM if same else f"{IRM}-{window_ms:g}ms",
        kind="oracle",
        parameters=0,
        description=(
            f"ceiling: oracle ratio mask |S_j|/sum|S_k| from the true sources, full band, "
            f"STFT window {window_ms:g} ms hop {hop_ms:g} ms"
        ),
        fingerprint=f"irm1:{window_ms:g}/{hop_ms:g}ms",
        separate=separate,
        recipe=functools.partial(irm_method, audio),
    )


def file_digest(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _load_separator(path: Path, runtime: str):
    if not Path(path).is_file():
        raise EvaluationError(f"model file not found: {path}")
    require_keras_file(path, note=": the .tflite beside it is used on LiteRT (--runtime auto or litert)")
    # the runtime `cunet separate` would take for the same option ("auto": LiteRT when the
    # model has its .tflite), so the scores are those of what it writes
    return Separator.load(path, runtime=runtime)


def _runtime_tag(separator) -> str:
    """ "" for the TensorFlow reference runtime (the fingerprints of earlier results), else
    ":<runtime>", so scores of one runtime are never mixed with another's."""
    return "" if separator.runtime == "tensorflow" else f":{separator.runtime}"


def method_name_for(path: Path) -> str:
    """A model's method name: its file stem, or its folder's name for generic stems (model.keras)."""
    path = Path(path)
    stem = path.name[: -len(".keras")] if path.name.endswith(".keras") else path.stem
    if stem in ("model", "best", "final", "last", "checkpoint") and path.parent.name:
        return path.parent.name
    return stem


def model_method(path, targets: Sequence[str], name: Optional[str] = None, runtime: str = "auto") -> Method:
    """A saved C-U-Net (or any cunet model) that separates every target through `Separator`,
    on `runtime` ("auto", "litert" or "tensorflow", as `cunet separate --runtime`)."""
    path = Path(path)
    separator = _load_separator(path, runtime)
    missing = [t for t in targets if t not in separator.instruments]
    if missing:
        raise EvaluationError(
            f"{path}: this model separates {', '.join(separator.instruments)}, not "
            f"{', '.join(missing)} (use --dedicated for dedicated U-Nets, or --targets)"
        )
    config = separator.config

    def separate(track: TrackAudio, wanted):
        return separator.separate(track.mixture, track.rate, instruments=tuple(wanted))

    return Method(
        name=name or method_name_for(path),
        kind="model",
        parameters=count_parameters(path),
        description=f"{config.model.type} model {path.name} (config {config.name}, {separator.runtime})",
        fingerprint=f"model:{file_digest(path)}{_runtime_tag(separator)}",
        separate=separate,
        config=config,
        recipe=functools.partial(model_method, path, tuple(targets), name, separator.runtime),
    )


def dedicated_method(
    paths: Mapping[str, Path], targets: Sequence[str], name: str, runtime: Union[str, Mapping[str, str]] = "auto"
) -> Method:
    """Dedicated U-Nets, one per target, assembled into one method (parameters summed), each
    on `runtime` as in `model_method` (one for all, or {target: runtime})."""
    missing = [t for t in targets if t not in paths]
    if missing:
        raise EvaluationError(
            f"--dedicated gives no U-Net for {', '.join(missing)}: pass one "
            f"INSTRUMENT=PATH for each target ({', '.join(targets)})"
        )
    separators = {}
    for target in targets:
        path = Path(paths[target])
        separator = _load_separator(path, runtime if isinstance(runtime, str) else runtime[target])
        if separator.config.conditioned or separator.config.model.target != target:
            what = (
                "a C-U-Net"
                if separator.config.conditioned
                else (f"a dedicated U-Net for {separator.config.model.target!r}")
            )
            raise EvaluationError(f"--dedicated {target}={path}: the model is {what}, not a U-Net for {target!r}")
        separators[target] = separator

    def separate(track: TrackAudio, wanted):
        return {t: separators[t].separate(track.mixture, track.rate, instruments=(t,))[t] for t in wanted}

    runtimes = {t: s.runtime for t, s in separators.items()}
    return Method(
        name=name,
        kind="dedicated",
        parameters=sum(count_parameters(Path(paths[t])) for t in targets),
        description="dedicated U-Nets: " + ", ".join(f"{t}={Path(paths[t]).name} ({runtimes[t]})" for t in targets),
        fingerprint="dedicated:"
        + ",".join(f"{t}={file_digest(Path(paths[t]))}{_runtime_tag(separators[t])}" for t in targets),
        separate=separate,
        config=separators[targets[0]].config,
        recipe=functools.partial(dedicated_method, dict(paths), tuple(targets), name, runtimes),
    )
