"""Options shared by several commands, each defined once, with choices from the library.

Every `add_*` function adds one option (or one pair that belongs together) to an argparse
parser; a command's `add_arguments` is a list of these calls plus its own options. The
choices are the library's constants (strategies, audio backends, output formats), so the
command line cannot offer what the library refuses. Nothing imported here loads TensorFlow
or numpy: `cunet --help` builds every command's parser.
"""

from __future__ import annotations

import argparse

from cunet.audio.formats import BACKENDS, DEFAULT_MP3_KBPS, MP3_KBPS, WAV_BITS, WRITE_FORMATS
from cunet.config import DEFAULT_CONFIG, available_configs
from cunet.separation.runtimes import RUNTIMES
from cunet.training.backends import KERAS_BACKENDS
from cunet.training.distribute import STRATEGIES

MUSDB_SUBSETS = ("train", "test")  # the folders of a MUSDB18 root
EMBEDDED_MODEL_HELP = "a trained cunet .keras model (default: the embedded model)"


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_model(parser, help: str = EMBEDDED_MODEL_HELP, **kwargs) -> None:
    """`--model PATH`: a saved .keras model; `kwargs` go to `add_argument` (required, action...)."""
    kwargs.setdefault("metavar", "PATH")
    parser.add_argument("--model", help=help, **kwargs)


RUNTIME_CHOICES = tuple(r for r in RUNTIMES if r != "jax")  # jax is --backend jax


def add_runtime(parser) -> None:
    """`--runtime auto|litert|tensorflow`: what runs the mask network (`cunet.separation.runtimes`)."""
    parser.add_argument(
        "--runtime",
        default="auto",
        choices=RUNTIME_CHOICES,
        help="what runs the mask network: litert (the model's exported .tflite; no TensorFlow import), "
        "tensorflow, or auto (default): litert when the model has its .tflite and ai-edge-litert imports",
    )


def add_config(parser, extra_help: str = "") -> None:
    """`--config NAME_OR_PATH`: a packaged config name or a YAML file (default `DEFAULT_CONFIG`)."""
    parser.add_argument(
        "--config",
        default=None,
        metavar="NAME_OR_PATH",
        help=f"config name ({', '.join(available_configs())}) or YAML path (default: {DEFAULT_CONFIG}){extra_help}",
    )


def add_audio_backend(parser, what: str = "the inputs") -> None:
    """`--audio-backend`: one of `cunet.audio.formats.BACKENDS`."""
    parser.add_argument(
        "--audio-backend",
        default="auto",
        choices=BACKENDS,
        help=f"decoder for {what}: soundfile (+ ffmpeg) or tensorflow-io "
        "(pip install '.[tfio]'); default auto, which is soundfile",
    )


def add_instrument(parser, required: bool = True) -> None:
    """`--instrument/-i SPEC`, repeatable: a name, a sum (vocals+drums) or weighted (vocals=0.5)."""
    parser.add_argument(
        "--instrument",
        "-i",
        action="append",
        required=required,
        metavar="SPEC",
        help="what to separate: a name (vocals), a sum (vocals+drums) or weighted (vocals=0.5); repeatable",
    )


def add_format(parser) -> None:
    """`--format` (one of `cunet.audio.formats.WRITE_FORMATS`), `--wav-bits` and `--bitrate`."""
    parser.add_argument(
        "--format",
        default="wav",
        choices=tuple(WRITE_FORMATS),
        help="output format (default wav, 32-bit float; flac is 24-bit; mp3 at --bitrate)",
    )
    parser.add_argument(
        "--wav-bits",
        type=int,
        default=32,
        choices=tuple(WAV_BITS),
        help="wav sample format: 16 or 24-bit PCM, or 32-bit float (default 32)",
    )
    parser.add_argument(
        "--bitrate",
        default=None,
        metavar="KBPS",
        help=f"mp3 bitrate, {MP3_KBPS[0]}k to {MP3_KBPS[1]}k (default {DEFAULT_MP3_KBPS}k; "
        "inputs at 8-24 kHz are capped at 160k or 64k)",
    )


def add_strategy(parser) -> None:
    """`--strategy`: one of `cunet.training.distribute.STRATEGIES`."""
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="tf.distribute strategy: auto picks multiworker when TF_CONFIG names "
        "several workers, mirrored on several GPUs, else default",
    )


def add_musdb(parser, root_help: str = "MUSDB18 root (holding train/ and test/)") -> None:
    """`--musdb-root DIR` (required) and `--is-wav` (the root is MUSDB18-HQ)."""
    parser.add_argument("--musdb-root", required=True, metavar="DIR", help=root_help)
    parser.add_argument(
        "--is-wav", action="store_true", help="the root is MUSDB18-HQ (a folder of wav stems per track), not .stem.mp4"
    )


def add_subset(parser, default: str, what: str) -> None:
    """`--subset`: a MUSDB18 subset folder."""
    parser.add_argument(
        "--subset", default=default, choices=MUSDB_SUBSETS, help=f"MUSDB18 subset to {what} (default: {default})"
    )


def add_jobs(parser, what: str = "tracks", auto_help: str | None = None) -> None:
    """`--jobs/-j N`: worker processes (default 1; with `auto_help`, None: the command picks,
    as `auto_help` says)."""
    parser.add_argument(
        "--jobs",
        "-j",
        type=positive_int,
        default=None if auto_help else 1,
        metavar="N",
        help=f"{what} processed in parallel (default {auto_help or 1})",
    )


def add_backend(parser, what: str = "the network") -> None:
    """`--backend`: the Keras backend (`cunet.training.backends.KERAS_BACKENDS`); `cunet.cli.main`
    selects it before Keras loads."""
    parser.add_argument(
        "--backend",
        default=None,
        choices=KERAS_BACKENDS,
        help=f"Keras backend that runs {what} (default: KERAS_BACKEND, else tensorflow); "
        "jax runs on a JAX GPU without a TensorFlow GPU build",
    )
