"""A failed first start does not block its run folder: a folder whose starts finished no epoch
takes the corrected config (and forgets those starts); one with a finished epoch of another
config stays refused (tests/training/test_train.py)."""

import json

import pytest
import yaml

from cunet.cli import main
from cunet.config import load_config
from cunet.training import TrainingError


def test_corrected_config_reuses_the_folder_of_a_failed_first_start(tmp_path, cache_dir, tiny, capsys, monkeypatch):
    import cunet.training.run as training_run

    run = tmp_path / "run"
    first = tmp_path / "first.yaml"
    data = tiny.to_dict()
    data.pop("name")
    data["model"]["filters"] = 2
    first.write_text(yaml.safe_dump(data))

    def fails(self, *args, **kwargs):
        raise TrainingError("the first start fails after writing its run folder")

    monkeypatch.setattr(training_run._Run, "fit", fails)
    argv = [
        "--data",
        str(cache_dir),
        "--out",
        str(run),
        "--steps-per-epoch",
        "1",
        "--epochs",
        "2",
        "--time-limit",
        "0.0001",
        "--quiet",
        "--no-tensorboard",
    ]
    assert main(["train", "--config", str(first), *argv]) == 2
    assert load_config(run / "config.yaml").model.filters == 2 and (run / "run.json").is_file()
    monkeypatch.undo()

    capsys.readouterr()
    assert main(["train", "--config", "tiny", *argv]) == 0
    assert "held no finished epoch of another config" in capsys.readouterr().err
    assert load_config(run / "config.yaml").model == tiny.model
    info = json.loads((run / "run.json").read_text())
    assert len(info["starts"]) == 1 and info["config"] == "tiny"
    assert json.loads((run / "resume" / "state.json").read_text())["epoch"] == 1


@pytest.mark.parametrize("left", ["resume/state.json", "last.keras"])
def test_a_folder_with_a_finished_epoch_of_another_config_stays_refused(tmp_path, cache_dir, tiny, capsys, left):
    from cunet.config import save_config

    run = tmp_path / "run"
    (run / "resume").mkdir(parents=True)
    save_config(tiny.replace(model={"filters": 2}), run / "config.yaml")
    (run / left).write_text("{}")
    assert main(["train", "--config", "tiny", "--data", str(cache_dir), "--out", str(run)]) == 2
    assert "different config" in capsys.readouterr().err
    assert load_config(run / "config.yaml").model.filters == 2
