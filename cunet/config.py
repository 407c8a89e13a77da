"""Typed configuration: YAML files in `configs/` loaded into frozen dataclasses.

A config names everything a model depends on (audio rate, STFT, patch shape, instrument
order, network, training and data settings). An unknown key or a value of the wrong type
is a `ConfigError` naming the key, so a typo never silently falls back to a default.

Numbers are checked too (positive rates, hops, filters, frames, batch sizes; probabilities
in [0, 1]; hop_length <= n_fft...), so `prepare`, `train` and `info --config` all refuse
a config that cannot work with the same one line, before any work.

Over 400 lines on purpose: each key's type, default, choices and checks are read in one
place, next to the loader that applies them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Optional, Union

from cunet.errors import CunetError
from cunet.fileio import atomic_write_text

DEFAULT_CONFIG = "cunet-simple-dense"


class ConfigError(CunetError):
    """A config file is missing, malformed, or holds an unknown key or a wrong type."""


@dataclass(frozen=True)
class AudioConfig:
    """Model-side audio: mono at `sample_rate`, STFT with `n_fft` and `hop_length`.

    The spectral front end keeps the first `n_fft // 2` bins (the Nyquist bin is dropped).
    """

    sample_rate: int = 8192
    n_fft: int = 1024
    hop_length: int = 256


@dataclass(frozen=True)
class PatchConfig:
    """Network input: `freq_bins` x `frames` magnitude patches with one channel."""

    freq_bins: int = 512
    frames: int = 128


@dataclass(frozen=True)
class ModelConfig:
    """The U-Net and, for a C-U-Net, its FiLM conditioning.

    `type` is "cunet" (conditioned, inputs: magnitude and condition) or "unet" (a dedicated
    U-Net for `target`, input: magnitude). Encoder block i has `filters * 2**i` channels.
    `film` is "simple" (one gamma/beta per block) or "complex" (one per channel); `control`
    is "dense" or "cnn", with hidden sizes `control_units`.
    """

    type: str = "cunet"
    target: Optional[str] = None
    n_layers: int = 6
    filters: int = 16
    kernel_size: int = 5
    film: str = "simple"
    control: str = "dense"
    control_units: list[int] = field(default_factory=lambda: [16, 64, 256])
    control_kernel_size: int = 4
    control_padding: list[str] = field(default_factory=lambda: ["same", "same", "valid"])
    control_dropout: float = 0.5
    decoder_dropout: list[bool] = field(default_factory=lambda: [False, True, True, True, False, False])
    dropout_rate: float = 0.5
    batchnorm_momentum: float = 0.9
    leaky_relu_slope: float = 0.2
    init_stddev: float = 0.02


@dataclass(frozen=True)
class TrainingConfig:
    """Optimizer, loss and schedule (the paper: Adam 1e-3, beta_1 0.5, L1 loss)."""

    batch_size: int = 64
    steps_per_epoch: int = 2048
    epochs: int = 1000
    validation_steps: int = 0
    learning_rate: float = 1e-3
    adam_beta_1: float = 0.5
    loss: str = "mean_absolute_error"
    early_stopping_patience: int = 30
    reduce_lr_patience: int = 15
    reduce_lr_factor: float = 0.5
    min_learning_rate: float = 1e-5
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    """Training examples: which conditions are drawn and how stems are augmented.

    `conditions` lists the condition families: "one_hot" (one instrument), "sums" (two or
    more instruments), "all" (the all-ones vector) and "zero" (silence as target).
    `storage` is how the training stems are held in memory: "float32", or "float16"/"int16"
    at half the memory (`cunet.training.stembank`).
    """

    conditions: list[str] = field(default_factory=lambda: ["one_hot"])
    remix_probability: float = 0.25
    progressive_probability: float = 0.25
    gain_db_range: list[float] = field(default_factory=lambda: [0.0, 0.0])
    valid_fraction: float = 0.2
    valid_offsets_per_track: int = 4
    storage: str = "float32"


@dataclass(frozen=True)
class Config:
    """A complete, resolved cunet configuration."""

    name: str = DEFAULT_CONFIG
    instruments: list[str] = field(default_factory=lambda: ["bass", "drums", "other", "vocals"])
    audio: AudioConfig = field(default_factory=AudioConfig)
    patch: PatchConfig = field(default_factory=PatchConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    data: DataConfig = field(default_factory=DataConfig)

    @property
    def conditioned(self) -> bool:
        return self.model.type == "cunet"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **sections) -> "Config":
        """Return a copy with sections or fields overridden, e.g. `replace(training={...})`."""
        data = self.to_dict()
        for key, value in sections.items():
            if isinstance(value, dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return config_from_dict(data)


_CHOICES = {
    "model.type": ("cunet", "unet"),
    "model.film": ("simple", "complex"),
    "model.control": ("dense", "cnn"),
    "data.storage": ("float32", "float16", "int16"),
}
_CONDITION_FAMILIES = ("one_hot", "sums", "all", "zero")
_PADDINGS = ("same", "valid", "causal")  # Conv1D's


class _Range(typing.NamedTuple):
    """The values a number may take: from `low` (excluded when `low_open`) up to `high`."""

    low: float
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.high is None:
            return "positive" if self.low_open and self.low == 0 else f"at least {self.low}"
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"


_POSITIVE, _COUNT, _FRACTION = _Range(0, low_open=True), _Range(1), _Range(0, 1)
_NONNEGATIVE, _BELOW_ONE = _Range(0), _Range(0, 1, high_open=True)
# The numbers a config may hold (a list: each entry); others would fail deep in prepare or
# train, or train nothing.
_RANGES = {
    "audio.sample_rate": _COUNT,
    "audio.n_fft": _Range(2),
    "audio.hop_length": _COUNT,
    "patch.freq_bins": _COUNT,
    "patch.frames": _COUNT,
    "model.n_layers": _COUNT,
    "model.filters": _COUNT,
    "model.kernel_size": _COUNT,
    "model.control_units": _COUNT,
    "model.control_kernel_size": _COUNT,
    "model.control_dropout": _BELOW_ONE,
    "model.dropout_rate": _BELOW_ONE,
    "model.batchnorm_momentum": _FRACTION,
    "model.leaky_relu_slope": _NONNEGATIVE,
    "model.init_stddev": _POSITIVE,
    "training.batch_size": _COUNT,
    "training.steps_per_epoch": _COUNT,
    "training.epochs": _COUNT,
    "training.validation_steps": _NONNEGATIVE,
    "training.learning_rate": _POSITIVE,
    "training.adam_beta_1": _BELOW_ONE,
    "training.early_stopping_patience": _NONNEGATIVE,
    "training.reduce_lr_patience": _NONNEGATIVE,
    "training.reduce_lr_factor": _Range(0, 1, low_open=True, high_open=True),
    "training.min_learning_rate": _NONNEGATIVE,
    "training.seed": _Range(0, 2**32 - 1),
    "data.remix_probability": _FRACTION,
    "data.progressive_probability": _FRACTION,
    "data.gain_db_range": _Range(-120, 120),
    "data.valid_fraction": _BELOW_ONE,
    "data.valid_offsets_per_track": _COUNT,
}
# Below this rate there is little music left to separate: a warning, not an error.
LOWEST_MUSIC_RATE = 4000


class ConfigWarning(UserWarning):
    """A config that loads and runs but is very likely a mistake (e.g. a 100 Hz sample rate)."""


# Keys read with a DeprecationWarning and dropped, so older configs and model files still load.
_DEPRECATED_KEYS = {
    "data.shuffle_buffer": "it was never read: the pipeline draws its patches at random already",
}


def _check_type(value, hint, where: str):
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [t for t in options if t is not type(None)]
        return _check_type(value, inner, where)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return _build(hint, value, where)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (str, bool) and isinstance(value, hint):
        return value
    raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")


def _build(cls, data: dict, prefix: str):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"unknown config key '{where}' (known: {', '.join(sorted(known))})")
    kwargs = {}
    for key, value in data.items():
        where = f"{prefix}.{key}" if prefix else key
        kwargs[key] = _check_type(value, hints[key], where)
    return cls(**kwargs)


def _check_numbers(config: Config) -> None:
    for where, allowed in _RANGES.items():
        section, key = where.split(".")
        value = getattr(getattr(config, section), key)
        for i, number in enumerate(value if isinstance(value, list) else [value]):
            if not allowed.holds(number):
                label = f"{where}[{i}]" if isinstance(value, list) else where
                raise ConfigError(f"{label}: must be {allowed}, got {number!r}")
    audio = config.audio
    if audio.hop_length > audio.n_fft:
        raise ConfigError(
            f"audio.hop_length: cannot exceed audio.n_fft ({audio.n_fft}), got "
            f"{audio.hop_length} (frames would skip samples)"
        )
    if config.patch.freq_bins > audio.n_fft // 2:
        raise ConfigError(
            f"patch.freq_bins: cannot exceed audio.n_fft // 2 ({audio.n_fft // 2}), got {config.patch.freq_bins}"
        )
    gains = config.data.gain_db_range
    if len(gains) != 2 or gains[0] > gains[1]:
        raise ConfigError(f"data.gain_db_range: needs [low, high] with low <= high, got {gains}")
    for where in ("model.control_units", "data.conditions"):
        section, key = where.split(".")
        if not getattr(getattr(config, section), key):
            raise ConfigError(f"{where}: needs at least one entry")
    if audio.sample_rate < LOWEST_MUSIC_RATE:
        warnings.warn(
            f"audio.sample_rate {audio.sample_rate} Hz is too low for music (below "
            f"{LOWEST_MUSIC_RATE} Hz: nothing above {audio.sample_rate / 2:g} Hz is kept)",
            ConfigWarning,
            stacklevel=4,
        )


def validate_config(config: Config) -> Config:
    """`config` itself once every check holds (`config_from_dict` runs them); a
    `ConfigError` naming the first key that fails."""
    _check_numbers(config)
    for where, choices in _CHOICES.items():
        section, key = where.split(".")
        value = getattr(getattr(config, section), key)
        if value not in choices:
            raise ConfigError(f"{where}: must be one of {', '.join(choices)}, got {value!r}")
    model = config.model
    if len(set(config.instruments)) != len(config.instruments) or not config.instruments:
        raise ConfigError(f"instruments: must be distinct names, got {config.instruments}")
    if model.type == "unet" and model.target not in config.instruments:
        raise ConfigError(
            f"model.target: a dedicated U-Net needs a target among {config.instruments}, got {model.target!r}"
        )
    if model.type == "cunet" and model.target is not None:
        raise ConfigError("model.target: only a dedicated U-Net (model.type: unet) has a target")
    if len(model.decoder_dropout) != model.n_layers:
        raise ConfigError(f"model.decoder_dropout: needs {model.n_layers} entries")
    if model.control == "cnn" and len(model.control_padding) != len(model.control_units):
        raise ConfigError("model.control_padding: needs one entry per control_units entry")
    for family in config.data.conditions:
        if family not in _CONDITION_FAMILIES:
            raise ConfigError(f"data.conditions: unknown family {family!r} (known: {', '.join(_CONDITION_FAMILIES)})")
    if model.control == "cnn" and any(p not in _PADDINGS for p in model.control_padding):
        raise ConfigError(
            f"model.control_padding: entries must be one of {', '.join(_PADDINGS)}, got {model.control_padding}"
        )
    divisor = 2**model.n_layers
    if config.patch.freq_bins % divisor or config.patch.frames % divisor:
        raise ConfigError(f"patch: freq_bins and frames must be multiples of {divisor}")
    return config


def _drop_deprecated(data: dict) -> dict:
    """`data` without the keys of `_DEPRECATED_KEYS`, warning once per key found."""
    for where, reason in _DEPRECATED_KEYS.items():
        section, key = where.split(".")
        values = data.get(section)
        if isinstance(values, dict) and key in values:
            data = {**data, section: {k: v for k, v in values.items() if k != key}}
            warnings.warn(
                f"config key '{where}' is deprecated and ignored ({reason}); remove it",
                DeprecationWarning,
                stacklevel=3,
            )
    return data


def config_from_dict(data: dict) -> Config:
    """Build a validated `Config` from a plain mapping (as read from YAML)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    return validate_config(_build(Config, _drop_deprecated(data), ""))


def packaged_config_dir():
    """The folder of named configs: `cunet.configs` once installed, `configs/` in a checkout."""
    try:
        return resources.files("cunet.configs")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "configs"


def available_configs() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in packaged_config_dir().iterdir() if p.name.endswith(".yaml"))


def load_config(name_or_path: Union[str, Path] = DEFAULT_CONFIG) -> Config:
    """Load a config by name (`cunet-simple-dense`) or by path to a YAML file."""
    text = str(name_or_path)
    path = Path(text)
    if path.is_file():
        source = path
        raw = path.read_text()
    elif text.endswith((".yaml", ".yml")) or "/" in text:
        raise ConfigError(f"config file not found: {text}")
    else:
        source = packaged_config_dir() / f"{text}.yaml"
        if not source.is_file():
            raise ConfigError(f"unknown config {text!r} (named configs: {', '.join(available_configs())})")
        raw = source.read_text()
    import yaml  # here, not at the top: `cunet --help` imports this module for the config names

    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if isinstance(data, dict):
        data = {"name": path.stem if path.is_file() else text, **data}
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def save_config(config: Config, path: Union[str, Path]) -> None:
    """Write `config` as YAML (atomically) so that `load_config(path)` rebuilds it."""
    import yaml

    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


# The sections that make a model's architecture (what its weights mean); training and
# data may differ between a model and the run that starts from its weights.
ARCHITECTURE_SECTIONS = ("instruments", "audio", "patch", "model")


def differing_keys(a: Config, b: Config, sections=ARCHITECTURE_SECTIONS) -> list[str]:
    """The keys of `sections` ("model.filters", "instruments"...) whose values differ."""
    first, second = a.to_dict(), b.to_dict()
    keys = []
    for section in sections:
        if isinstance(first[section], dict):
            keys += [f"{section}.{key}" for key in first[section] if first[section][key] != second[section][key]]
        elif first[section] != second[section]:
            keys.append(section)
    return keys


def config_hash(config: Config, sections=("instruments", "audio")) -> str:
    """A short stable hash of the given config sections (used to validate data caches)."""
    data = config.to_dict()
    payload = json.dumps({key: data[key] for key in sections}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
