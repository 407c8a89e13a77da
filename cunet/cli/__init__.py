"""The `cunet` command line: one entry point, one module per subcommand in `cunet.cli`.

Each command module defines `HELP`, `add_arguments(parser)` (options shared by several
commands come from `cunet.cli.options`) and `run(args) -> int`, and imports TensorFlow only
inside `run`, so `cunet --help` is instant. `main` imports TensorFlow quietly before `run`
unless the module's optional `needs_tensorflow(args)` says False (separation on LiteRT never
imports it). A `CunetError` (bad input) becomes one line on stderr and exit code 2; Ctrl-C
and SIGTERM stop a command cleanly (temporary files removed) with one line, exit 130 or 143.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import warnings

from cunet import __version__
from cunet.config import ConfigWarning
from cunet.errors import CunetError
from cunet.training.backends import select_keras_backend

COMMANDS = ("separate", "train", "prepare", "evaluate", "inspect", "info", "demo", "export", "serve", "synth")


def _command_module(name: str):
    return importlib.import_module(f"cunet.cli.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cunet",
        description="Conditioned U-Net: one network separates any instrument you ask for.",
    )
    parser.add_argument("--version", action="version", version=f"cunet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = _command_module(name)
        except ImportError as exc:  # a broken install or command module: never a silently missing command
            raise ImportError(f"cunet: the {name!r} command cannot be loaded: {exc}") from exc
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run, needs_tensorflow=getattr(module, "needs_tensorflow", None))
    return parser


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and probe devices with the chatter of CUDA probing on CPU machines hidden."""
    import importlib.util

    if os.environ.get("KERAS_BACKEND") == "jax" and importlib.util.find_spec("tensorflow") is None:
        return  # JAX needs no TensorFlow: separation runs without it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    with _terminate_as_interrupt(), _config_warnings_as_lines(args.command):
        try:
            select_keras_backend(getattr(args, "backend", None))  # before TensorFlow: it imports Keras
            if args.needs_tensorflow is None or args.needs_tensorflow(args):
                _import_tensorflow_quietly()
            return int(args.run(args) or 0)
        except CunetError as exc:
            print(f"cunet {args.command}: error: {exc}", file=sys.stderr)
            return 2
        except Terminated:
            print(f"cunet {args.command}: terminated", file=sys.stderr)
            return 143
        except KeyboardInterrupt:
            print(f"cunet {args.command}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # stdout closed early (`cunet info | head`): stop quietly, as shell tools do
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C, so every `finally` and context manager
    cleans up (temporary outputs removed) before the command exits 143."""


@contextlib.contextmanager
def _config_warnings_as_lines(command: str):
    """While a command runs, a `ConfigWarning` (a config that runs but is likely a mistake)
    is one line on stderr, `cunet COMMAND: warning: ...`, once; other warnings show as Python's."""
    shown, said = warnings.showwarning, set()

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ConfigWarning):
            if str(message) not in said:
                print(f"cunet {command}: warning: {message}", file=sys.stderr)
            said.add(str(message))
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


@contextlib.contextmanager
def _terminate_as_interrupt():
    """While a command runs, SIGTERM raises `Terminated` (in the main thread only: elsewhere,
    e.g. a command run from a thread, signals cannot be handled and stay as they are)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
