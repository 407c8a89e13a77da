"""Distribution: the `tf.distribute` strategy of a run, this worker's role, a Keras workaround.

Multi-worker rule: every worker runs the same callbacks (saving may involve collective
ops), but only the chief writes into the run directory; the others write into temporary
folders that are deleted. All workers read `run_dir/resume` when resuming, so the run
directory must be on a filesystem every worker sees.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Optional

from cunet.training import TrainingError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")

# The Keras releases on which `multi_worker_keras_fixes` was verified (first, last minor
# version, inclusive). It patches private Keras names: check again before widening it.
KERAS_VERIFIED = ((3, 15), (3, 15))


def _tf_config() -> Optional[dict]:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TrainingError(f"TF_CONFIG is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "cluster" not in data or "task" not in data:
        raise TrainingError('TF_CONFIG needs "cluster" and "task" entries')
    return data


def _cluster_size(tf_config: Optional[dict]) -> int:
    if not tf_config:
        return 1
    cluster = tf_config["cluster"]
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def select_strategy(name: str = "auto"):
    """A `tf.distribute.Strategy` by name.

    - "default": no distribution (one device);
    - "mirrored": `MirroredStrategy` over this machine's GPUs, or over its logical CPU
      devices when there is no GPU (one replica per device);
    - "multiworker": `MultiWorkerMirroredStrategy`, cluster read from `TF_CONFIG`;
    - "auto": multiworker when `TF_CONFIG` names more than one worker, mirrored when
      there are several GPUs, default otherwise.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise TrainingError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")
    tf_config = _tf_config()
    if name == "auto":
        if _cluster_size(tf_config) > 1:
            name = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if tf_config is None:
        raise TrainingError("--strategy multiworker needs TF_CONFIG describing the cluster (see docs/training.md)")
    return tf.distribute.MultiWorkerMirroredStrategy()


def strategy_label(strategy) -> str:
    """The public name of `strategy` (MultiWorkerMirroredStrategy's class is named
    CollectiveAllReduceStrategy)."""
    name = type(strategy).__name__
    return "MultiWorkerMirroredStrategy" if name.startswith("CollectiveAllReduce") else name


def worker_role(strategy) -> tuple[int, int, bool]:
    """(worker index, number of workers, is chief) of this process under `strategy`."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", None):
        return 0, 1, True
    spec = resolver.cluster_spec().as_dict()
    if not spec:
        return 0, 1, True
    workers = len(spec.get("chief", [])) + len(spec.get("worker", []))
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    if "chief" in spec:
        index = 0 if task_type == "chief" else task_id + 1
        chief = task_type == "chief"
    else:
        index = task_id
        chief = task_type in (None, "worker") and task_id == 0
    return index, workers, chief


def keras_trainer_module():
    """The private Keras module `multi_worker_keras_fixes` patches, checked against
    `KERAS_VERIFIED`; raises `TrainingError` on a Keras where the patch was not verified."""
    import keras

    version = tuple(int(part) for part in keras.__version__.split(".")[:2])
    (low, high), shown = KERAS_VERIFIED, keras.__version__
    if not low <= version <= high:
        raise TrainingError(
            f"multi-worker training works around two Keras bugs with private Keras names, "
            f"verified on Keras {low[0]}.{low[1]} to {high[0]}.{high[1]}; Keras {shown} is "
            "installed: install a verified Keras, or train on one machine"
        )
    from keras.src.backend.tensorflow import trainer

    if not callable(getattr(trainer, "_collective_all_reduce_multi_worker", None)):
        raise TrainingError(f"Keras {shown} lacks the private name the multi-worker workaround patches")
    return trainer


@contextlib.contextmanager
def multi_worker_keras_fixes(model, active: bool):
    """Work around two Keras 3 bugs of `fit` under a multi-worker strategy (Keras 3.15).

    1. With a model created under a strategy, `fit` mean-reduces a first batch for its
       symbolic build, which the collective strategy cannot do on nested batches: the
       functional model is built already, so `fit` takes the strategy from the scope.
    2. Logs (scalar metric results, already all-reduced by the metrics' variables) are
       reduced again along an axis 0 they do not have: reduce them over the local replicas
       as for a one-machine strategy.
    Both are undone on exit. Outside `KERAS_VERIFIED`, raises `TrainingError` (when active).
    """
    if not active:
        yield
        return
    trainer = keras_trainer_module()
    saved_strategy, saved_check = model._distribute_strategy, trainer._collective_all_reduce_multi_worker
    model._distribute_strategy = None
    trainer._collective_all_reduce_multi_worker = lambda strategy: False
    try:
        yield
    finally:
        model._distribute_strategy = saved_strategy
        trainer._collective_all_reduce_multi_worker = saved_check
