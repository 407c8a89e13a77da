import subprocess
import sys

from cunet.cli import main
from cunet.config import load_config
from cunet.model.files import save_model
from cunet.model.unet import build_model


def test_info_prints_paper_counts(capsys):
    assert main(["info", "--config", "cunet-simple-dense"]) == 0
    out = capsys.readouterr().out
    assert "9,848,497" in out and "9,844,847" in out
    assert "21,532 / 22,172" in out  # control part, trainable / total
    assert "(None, 512, 128, 1)" in out
    assert "FLOPs per patch" in out


def test_info_on_saved_model(tmp_path, capsys):
    config = load_config("tiny")
    path = save_model(build_model(config), config, tmp_path / "tiny.keras")
    assert main(["info", "--model", str(path)]) == 0
    assert "10,505" in capsys.readouterr().out


def test_info_on_the_embedded_model_says_what_it_was_trained_on(capsys):
    from cunet.separation.runtimes import default_model_path

    assert main(["info", "--model", str(default_model_path())]) == 0
    note = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "synthetic" in note[0] and "cunet train" in note[0]


def test_info_bad_inputs_one_line_exit_2(tmp_path, capsys):
    assert main(["info", "--config", "no-such"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cunet info: error: unknown config 'no-such'") and "\n" not in err
    assert main(["info", "--model", str(tmp_path / "none.keras")]) == 2
    err = capsys.readouterr().err.strip()
    assert "model file not found" in err and "\n" not in err


def test_python_dash_m_and_fast_help():
    result = subprocess.run(
        [sys.executable, "-c", "import sys, cunet.cli; cunet.cli.build_parser(); print('tensorflow' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"  # --help never imports TensorFlow
    result = subprocess.run([sys.executable, "-m", "cunet", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("cunet ")


def test_a_closed_stdout_gets_no_traceback():
    """`cunet info | head -1`: a reader that has gone ends the command quietly (141, as shells
    report SIGPIPE); here the pipe is closed before cunet writes, so the outcome is certain."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cunet", "info", "--config", "cunet-simple-dense"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "Traceback" not in stderr, stderr
