"""The Keras backend a run trains on: its strategy and its mixed-precision policy.

Keras picks its backend when it is first imported (`KERAS_BACKEND`; `cunet train --backend`
sets it). TensorFlow runs take a `tf.distribute` strategy (`cunet.training.distribute`); JAX
runs train on one device (`SingleDevice`) and refuse the TensorFlow strategies in one line.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

from cunet.errors import CunetError
from cunet.training import TrainingError
from cunet.training.distribute import select_strategy

KERAS_BACKENDS = ("tensorflow", "jax")


def select_keras_backend(name: Optional[str]) -> None:
    """Make `name` the Keras backend of this process (None: leave `KERAS_BACKEND` as it is).

    Must run before Keras is first imported (TensorFlow imports Keras too); a `CunetError`
    when Keras is already loaded with another backend.
    """
    if name is None:
        return
    if name not in KERAS_BACKENDS:
        raise CunetError(f"unknown backend {name!r} (choose from {', '.join(KERAS_BACKENDS)})")
    if "keras" in sys.modules:
        current = sys.modules["keras"].backend.backend()
        if current != name:
            raise CunetError(
                f"Keras is already loaded with the {current} backend; set "
                f"KERAS_BACKEND={name} before Keras (or TensorFlow) is imported"
            )
        return
    os.environ["KERAS_BACKEND"] = name


def keras_backend() -> str:
    """The Keras backend this process trains on ("tensorflow", "jax", ...)."""
    import keras

    return keras.backend.backend()


class SingleDevice:
    """The strategy of a run on a backend without `tf.distribute` (JAX): one device."""

    num_replicas_in_sync = 1
    cluster_resolver = None

    def scope(self):
        import contextlib

        return contextlib.nullcontext()


def run_strategy(name: str):
    """`select_strategy(name)` on TensorFlow; `SingleDevice` on other backends, where only
    "auto" and "default" exist (a `TrainingError` otherwise)."""
    backend = keras_backend()
    if backend == "tensorflow":
        return select_strategy(name)
    if name not in ("auto", "default"):
        raise TrainingError(
            f"--strategy {name} is a tf.distribute strategy, TensorFlow only: the "
            f"{backend} backend trains on one device (use --strategy auto or default)"
        )
    return SingleDevice()


def mixed_policy(mixed_precision) -> Optional[str]:
    """The Keras dtype policy of `train(mixed_precision=...)`: None (float32), "bfloat16",
    "float16", or True / "auto" (float16 on a TensorFlow GPU, bfloat16 elsewhere: JAX on a
    GPU too, where bfloat16 needs no loss scaling and is as fast on recent cards)."""
    if not mixed_precision:
        return None
    if mixed_precision in ("bfloat16", "float16"):
        return f"mixed_{mixed_precision}"
    if mixed_precision not in (True, "auto"):
        raise TrainingError(f"unknown mixed precision {mixed_precision!r} (auto, bfloat16 or float16)")
    if keras_backend() == "tensorflow":
        import tensorflow as tf

        return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"
    return "mixed_bfloat16"
