"""The command line's shared options and its parser: choices from the library, loud failures."""

import argparse
import subprocess
import sys

import pytest

import cunet.cli
from cunet.audio.formats import BACKENDS, WRITE_FORMATS
from cunet.cli import COMMANDS, build_parser, main
from cunet.cli.options import MUSDB_SUBSETS, positive_int
from cunet.config import available_configs
from cunet.training.distribute import STRATEGIES


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _choices(command: str, option: str):
    action = next(a for a in _subparser(command)._actions if option in a.option_strings)
    return tuple(action.choices)


def test_every_command_is_registered():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert tuple(sub.choices) == COMMANDS


def test_choices_are_the_library_constants():
    assert _choices("train", "--strategy") == STRATEGIES
    assert _choices("separate", "--audio-backend") == BACKENDS
    assert _choices("prepare", "--audio-backend") == BACKENDS
    assert _choices("separate", "--format") == tuple(WRITE_FORMATS)
    assert _choices("prepare", "--subset") == MUSDB_SUBSETS
    assert _choices("evaluate", "--subset") == MUSDB_SUBSETS


def test_every_strategy_parses_and_others_are_refused(capsys):
    for name in STRATEGIES:
        args = build_parser().parse_args(["train", "--data", "d", "--out", "o", "--strategy", name])
        assert args.strategy == name
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["train", "--data", "d", "--out", "o", "--strategy", "tpu"])
    assert exc.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_config_help_lists_the_packaged_configs():
    action = next(a for a in _subparser("info")._actions if "--config" in a.option_strings)
    assert all(name in action.help for name in available_configs())


def test_positive_int():
    assert positive_int("3") == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)


def test_a_broken_command_module_fails_loudly(monkeypatch):
    real = cunet.cli._command_module

    def broken(name):
        if name == "inspect":
            raise ModuleNotFoundError("No module named 'matplotlib'", name="matplotlib")
        return real(name)

    monkeypatch.setattr(cunet.cli, "_command_module", broken)
    with pytest.raises(ImportError, match=r"the 'inspect' command cannot be loaded: No module named 'matplotlib'"):
        build_parser()
    with pytest.raises(ImportError, match="inspect"):
        main(["--help"])


def test_help_imports_neither_tensorflow_nor_numpy_nor_yaml():
    code = (
        "import sys, cunet.cli; cunet.cli.build_parser(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'numpy', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    help_run = subprocess.run([sys.executable, "-m", "cunet", "--help"], capture_output=True, text=True)
    assert help_run.returncode == 0
    assert all(name in help_run.stdout for name in COMMANDS)
