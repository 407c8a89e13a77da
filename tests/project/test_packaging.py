"""Named configs resolve in an installed (non-editable) package, not only in a checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_named_configs_and_loads_them(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("cunet-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for config in ("cunet-simple-dense", "unet-dedicated", "tiny"):
        assert f"cunet/configs/{config}.yaml" in names
    licenses = [n for n in names if ".dist-info/" in n and n.endswith("LICENSE")]
    assert licenses and "MIT License" in zipfile.ZipFile(wheel).read(licenses[0]).decode()
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = "import cunet.config as c; print(c.__file__); print(c.load_config('cunet-complex-cnn').model.control)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    module_file, control = result.stdout.split()
    assert module_file.startswith(str(target)) and control == "cnn"
