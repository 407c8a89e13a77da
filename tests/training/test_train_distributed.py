"""`cunet train` under tf.distribute: MirroredStrategy over two logical CPU devices and
MultiWorkerMirroredStrategy over two local worker processes; replicas end identical.

Logical devices and TF_CONFIG must be set before TensorFlow starts, so every run is a
subprocess executing WORKER.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np

WORKER = r"""
import json, sys
import numpy as np
import tensorflow as tf
mode, cache, run_dir, out = sys.argv[1:5]
if mode == "mirrored":
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from cunet.config import load_config
from cunet.training.run import train
config = load_config("tiny").replace(training={"steps_per_epoch": 2, "epochs": 1, "batch_size": 4})
result = train(config, cache, run_dir, strategy=mode, verbose=0, tensorboard=False)
copies = [[np.asarray(x) for x in getattr(w.value, "values", (w.value,))] for w in result.model.weights]
np.savez(out + ".npz", *[c[0] for c in copies])
json.dump({
    "replicas_in_sync": result.model.distribute_strategy.num_replicas_in_sync,
    "local_copies": len(copies[0]),
    "differing": [w.path for w, c in zip(result.model.weights, copies)
                  if not all(np.array_equal(c[0], x) for x in c[1:])],
    "epochs": result.epochs_done,
}, open(out + ".json", "w"))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(mode, cache_dir, run, out, tf_config=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, mode, str(cache_dir), str(run), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process):
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]


def test_mirrored_two_logical_cpus(tmp_path, cache_dir):
    run = tmp_path / "run"
    finish(start("mirrored", cache_dir, run, tmp_path / "m"))
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["replicas_in_sync"] == 2 and report["local_copies"] == 2
    assert report["differing"] == [] and report["epochs"] == 1
    info = json.loads((run / "run.json").read_text())
    assert info["starts"][0]["strategy"] == "MirroredStrategy" and info["starts"][0]["replicas"] == 2
    from cunet.model.files import load_model

    model, _ = load_model(run / "best.keras")
    saved = np.load(tmp_path / "m.npz")
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_array_equal(w, saved[f"arr_{i}"])


def test_multiworker_two_local_processes(tmp_path, cache_dir):
    run = tmp_path / "run"
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    processes = [
        start(
            "multiworker",
            cache_dir,
            run,
            tmp_path / f"w{i}",
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}},
        )
        for i in range(2)
    ]
    for process in processes:
        finish(process)
    reports = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    for report in reports:
        assert report["replicas_in_sync"] == 2 and report["differing"] == [] and report["epochs"] == 1
    first, second = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert first.files == second.files
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key])
    # only the chief (worker 0) wrote the run directory
    assert sorted(p.name for p in run.iterdir()) == [
        "best.keras",
        "best.tflite",
        "config.yaml",
        "last.keras",
        "resume",
        "run.json",
        "training.csv",
    ]
    info = json.loads((run / "run.json").read_text())
    assert len(info["starts"]) == 1 and info["starts"][0]["strategy"] == "MultiWorkerMirroredStrategy"
