"""Commands that need no TensorFlow model import no TensorFlow: its import alone takes seconds of every run
(and of every `--jobs` comparison)."""

import subprocess
import sys

from cunet.separation.runtimes import default_model_path
from musdb_fixtures import make_musdb_root

EMBEDDED = default_model_path()


def _modules_after(argv) -> list:
    """The heavy frameworks imported by `cunet <argv>` run in a fresh process."""
    code = (
        "import sys\n"
        "from cunet.cli import main\n"
        f"code = main({argv!r})\n"
        "assert code == 0, code\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_prepare_and_baseline_evaluation_import_no_tensorflow(tmp_path):
    root = make_musdb_root(tmp_path / "musdb", "wav", {"train": 2, "test": 1}, seconds=2.0)
    prepare = [
        "prepare",
        "--musdb-root",
        str(root),
        "--config",
        "tiny",
        "--out",
        str(tmp_path / "cache"),
        "--quiet",
        "--is-wav",
        "--jobs",
        "1",
    ]
    assert _modules_after(prepare) == "[]"
    assert (tmp_path / "cache" / "manifest.json").is_file()
    evaluate = [
        "evaluate",
        "--musdb-root",
        str(root),
        "--is-wav",
        "--out",
        str(tmp_path / "scores"),
        "--targets",
        "vocals",
        "--no-progress",
        "--jobs",
        "1",
    ]
    assert _modules_after(evaluate) == "[]"
    assert (tmp_path / "scores" / "results.csv").is_file()
    # the embedded model has its .tflite: scored on LiteRT, as `cunet separate` runs it
    with_model = [
        *evaluate[:5],
        str(tmp_path / "model-scores"),
        *evaluate[6:],
        "--model",
        str(EMBEDDED),
        "--baselines",
        "none",
    ]
    assert _modules_after(with_model) == "[]"
    assert (tmp_path / "model-scores" / "cunet-default" / "method.json").is_file()
