"""The one switch for the CPU speed forms: `use_cpu_kernels(model)`.

Models are built and saved from stock Keras layers (`cunet.model.unet.UNet`). On a CPU,
TensorFlow's kernels for some of the U-Net's shapes are slow (docs/BENCHMARKS.md), and
`StridedConv2D`, `StridedConv2DTranspose` and `FusedBatchNorm` compute the same layers
faster. `use_cpu_kernels` gives a copy of a model in those forms, with the same weights,
when they apply: TensorFlow backend, float32 compute dtype, and no GPU or TPU visible to
TensorFlow. On any other device or dtype it returns the model unchanged. Files stay stock:
`cunet.model.files.save_model` converts a model in the CPU forms back
(`cunet.model.parts.stock_model`). This package imports nothing from `cunet.model`: callers
hand it the model or block it works on.
"""

from __future__ import annotations

import keras

from cunet.kernels.batchnorm import FusedBatchNorm
from cunet.kernels.convolutions import StridedConv2D, StridedConv2DTranspose

# stock class -> its CPU form (same weights and configuration)
CPU_FORMS = {
    keras.layers.Conv2D: StridedConv2D,
    keras.layers.Conv2DTranspose: StridedConv2DTranspose,
    keras.layers.BatchNormalization: FusedBatchNorm,
}
MODES = ("auto", "cpu", "stock")


def cpu_kernels_apply(model=None) -> bool:
    """True where the CPU forms are faster and meant to run: the TensorFlow backend, a
    float32 compute dtype (the model's, or Keras' global policy) and no accelerator
    visible to TensorFlow."""
    if keras.backend.backend() != "tensorflow":
        return False
    policy = model.dtype_policy if model is not None else keras.config.dtype_policy()
    if policy.compute_dtype != "float32":
        return False
    import tensorflow as tf  # not at the top: the kernels module must import under JAX without TensorFlow

    return not (tf.config.get_visible_devices("GPU") or tf.config.get_visible_devices("TPU"))


def uses_cpu_kernels(model) -> bool:
    """Whether any layer of the functional `model` is one of the CPU forms."""
    forms = tuple(CPU_FORMS.values())
    return any(isinstance(layer, forms) for layer in model.layers)


def _cpu_form(layer):
    form = CPU_FORMS.get(type(layer), type(layer))
    return form.from_config(layer.get_config())


def use_cpu_kernels(model, mode: str = "auto"):
    """`model` with its Conv2D, Conv2DTranspose and BatchNormalization layers in their CPU
    forms and the same weights (a new functional model of the same graph), or `model`
    itself. `mode`: "auto" (where `cpu_kernels_apply`), "cpu" (always, e.g. to compare the
    forms) or "stock" (never)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "stock" or (mode == "auto" and not cpu_kernels_apply(model)):
        return model
    fast = keras.models.clone_model(model, clone_function=_cpu_form)
    fast.set_weights(model.get_weights())
    return fast


def load_weights_either_form(trainer, path, build_other):
    """`trainer.load_weights(path)`, also for a file written by the trainer of the model's
    other form (a run started on a CPU and resumed on a GPU or under JAX, or the reverse):
    Keras names a layer's weights in a file by its class. Then `build_other()` builds that
    trainer, which reads the file and hands every variable over in order (the model's weights,
    then the optimizer's: both forms have the same variables in the same order)."""
    try:
        trainer.load_weights(path)
        return
    except ValueError:
        other = build_other()
    other.optimizer.build(other.trainable_variables)
    other.load_weights(path)
    for target, source in ((trainer.weights, other.weights), (trainer.optimizer.variables, other.optimizer.variables)):
        if [tuple(v.shape) for v in target] != [tuple(v.shape) for v in source]:
            raise ValueError(f"{path}: the weights of another model")
        for t, s in zip(target, source):
            t.assign(s)
