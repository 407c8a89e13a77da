"""Parameter counts (U-Net part and control part) and FLOPs per patch of a built model."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from cunet.model.control import ControlNetwork
from cunet.model.parts import control_network_of


@dataclass(frozen=True)
class ModelInfo:
    """What `cunet info` prints. FLOPs count a multiply-add as 2, forward pass, one patch."""

    name: str
    trainable: int
    total: int
    control_trainable: int
    control_total: int
    input_shapes: dict
    flops_per_patch: int

    @property
    def unet_trainable(self) -> int:
        return self.trainable - self.control_trainable

    @property
    def unet_total(self) -> int:
        return self.total - self.control_total


def _count(weights) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


def _conv_flops(kernel_shape, filters: int, positions) -> int:
    """2 x (kernel size x input channels) x filters per output position."""
    return int(2 * np.prod(kernel_shape[:-1]) * filters * np.prod(positions))


def _control_flops(control, n_conditions: int) -> int:
    shape = (1, n_conditions, 1) if control.kind == "cnn" else (1, n_conditions)
    total = 0
    for layer in control.hidden_layers:
        out = layer.compute_output_shape(shape)
        if isinstance(layer, keras.layers.Conv1D):
            total += _conv_flops(layer.kernel.shape, layer.filters, out[1:-1])
        elif isinstance(layer, keras.layers.Dense):
            total += int(2 * np.prod(layer.kernel.shape))
        shape = out
    return total + int(2 * np.prod(control.gamma_head.kernel.shape) * 2)


def _flops(model) -> int:
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            total += _conv_flops(layer.kernel.shape, layer.filters, layer.output.shape[1:-1])
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            # every input position scatters a kernel-sized, `filters`-deep update
            k = layer.kernel.shape
            total += int(2 * k[0] * k[1] * k[3] * layer.filters * np.prod(layer.input.shape[1:-1]))
        elif isinstance(layer, ControlNetwork):
            total += _control_flops(layer, layer.input.shape[-1])
    return total


def model_info(model) -> ModelInfo:
    """Count parameters and forward FLOPs of a cunet model (a `UNet`, or the same graph)."""
    control_trainable = control_total = 0
    control = control_network_of(model)
    if control is not None:
        control_trainable = _count(control.trainable_weights)
        control_total = _count(control.weights)
    return ModelInfo(
        name=model.name,
        trainable=_count(model.trainable_weights),
        total=_count(model.weights),
        control_trainable=control_trainable,
        control_total=control_total,
        input_shapes={t.name.split(":")[0]: tuple(t.shape) for t in model.inputs},
        flops_per_patch=_flops(model),
    )
