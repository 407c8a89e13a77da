"""Tampered model files: classes and functions smuggled into a `.keras` file's config
(`os.system`, `subprocess.Popen` as layers, activations, initializers or the model class)
and an embedded cunet config with a YAML Python tag are refused in one line naming the file,
and nothing they name runs; a `.tflite` given where a `.keras` is needed names the `.keras`."""

import json
import zipfile

import pytest
import yaml

from cunet.cli import main
from cunet.config import load_config
from cunet.model.files import CONFIG_MEMBER, save_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A cunet file of the `UNet` class and one of a plain functional model (the older
    dialect, with one config per layer), both carrying their cunet config."""
    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.unet import build_model

    folder = tmp_path_factory.mktemp("models")
    config = load_config("tiny")
    model = build_model(config, compile=False)
    unet = save_model(model, config, folder / "unet.keras")
    functional = folder / "functional.keras"
    use_cpu_kernels(model, "cpu").save(functional)
    with zipfile.ZipFile(functional, "a") as archive:
        archive.writestr(CONFIG_MEMBER, yaml.safe_dump(config.to_dict()))
    return {"unet": unet, "functional": functional}


def rewritten(source, target, member, edit):
    """A copy of the archive `source` at `target` with `member` replaced by `edit(its bytes)`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item, edit(data) if item.filename == member else data)
    return target


def first_holding(tree, key):
    """The first dict in the JSON `tree` that has `key`."""
    if isinstance(tree, dict):
        if key in tree:
            return tree
        tree = list(tree.values())
    for value in tree if isinstance(tree, list) else []:
        found = first_holding(value, key)
        if found is not None:
            return found
    return None


def smuggled(marker):
    """Configs that would create `marker` if Keras called what they name."""
    return {
        "os.system": {
            "module": "os",
            "class_name": "system",
            "config": {"command": f"touch {marker}"},
            "registered_name": None,
        },
        "subprocess.Popen": {
            "module": "subprocess",
            "class_name": "Popen",
            "config": {"args": ["touch", str(marker)]},
            "registered_name": None,
        },
    }


def tamper(kind, callable_name, marker):
    """An edit of config.json putting the smuggled callable where `kind` says."""
    evil = smuggled(marker)[callable_name]

    def edit(data):
        tree = json.loads(data)
        if kind == "model class":
            tree.update({k: v for k, v in evil.items() if k != "config"})
        elif kind == "layer class":
            tree["config"]["layers"][1].update({k: v for k, v in evil.items() if k != "config"})
            tree["config"]["layers"][1]["config"].update(evil["config"])
        else:  # an argument of a layer: activation, kernel_initializer
            first_holding(tree, kind)[kind] = evil
        return json.dumps(tree).encode()

    return edit


CASES = [
    ("unet", "model class", "os.system"),
    ("unet", "model class", "subprocess.Popen"),
    ("functional", "layer class", "os.system"),
    ("functional", "layer class", "subprocess.Popen"),
    ("functional", "activation", "os.system"),
    ("functional", "activation", "subprocess.Popen"),
    ("functional", "kernel_initializer", "os.system"),
    ("functional", "kernel_initializer", "subprocess.Popen"),
]


def one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("dialect, kind, callable_name", CASES)
def test_smuggled_callable_is_refused_naming_the_file_and_nothing_runs(
    tmp_path, files, capsys, dialect, kind, callable_name
):
    marker = tmp_path / "ran"
    path = rewritten(files[dialect], tmp_path / "tampered.keras", "config.json", tamper(kind, callable_name, marker))
    err = one_line_error(capsys, ["info", "--model", str(path)])
    assert err.startswith(f"cunet info: error: {path}: cannot load model: refused by safe loading"), err
    assert callable_name in err and "could not be deserialized" not in err
    assert not marker.exists()


@pytest.mark.parametrize("command", ["info", "inspect"])
def test_embedded_config_with_a_python_tag_is_refused_and_runs_nothing(tmp_path, files, capsys, command):
    marker = tmp_path / "ran"
    path = rewritten(
        files["unet"],
        tmp_path / "tagged.keras",
        CONFIG_MEMBER,
        lambda data: f"name: !!python/object/apply:os.system ['touch {marker}']\n".encode() + data,
    )
    out = ["--out", str(tmp_path / "film")] if command == "inspect" else []
    err = one_line_error(capsys, [command, "--model", str(path), *out])
    assert f"{path}: embedded config is not valid YAML" in err
    assert not marker.exists() and not (tmp_path / "film").exists()


@pytest.mark.parametrize("command", ["info", "inspect"])
def test_tflite_given_for_a_keras_model_names_the_keras(tmp_path, capsys, command):
    from cunet.separation.runtimes import default_model_path

    tflite = default_model_path().with_suffix(".tflite")
    out = ["--out", str(tmp_path / "film")] if command == "inspect" else []
    err = one_line_error(capsys, [command, "--model", str(tflite), *out])
    assert "give the .keras model (cunet-default.keras), not its LiteRT export" in err
    assert "zip" not in err
