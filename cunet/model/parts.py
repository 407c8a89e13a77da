"""The parts of a cunet model, for models that are not (or not only) a `UNet` instance.

Files saved before the `UNet` class (the shipped `cunet-default.keras` among them) load as
plain functional Keras models, and the Separator works on a sub-model ending at the mask.
`as_unet` turns the former into a `UNet` with the same weights; `mask_block_of` finds the
mask block of any of them by the graph's structure (layer types and connections), never by
layer names. `stock_model` and `other_form` move a model between stock layers and the CPU
forms of `cunet.kernels.switch`.
"""

from __future__ import annotations

from typing import Optional

import keras

from cunet.config import Config
from cunet.kernels.switch import use_cpu_kernels, uses_cpu_kernels
from cunet.model.control import ControlNetwork
from cunet.model.unet import MaskBlock, UNet, unet_arguments


def as_unet(model, config: Config) -> UNet:
    """`model` as a `UNet`: itself if it is one, otherwise the `UNet` of `config` with its
    weights (same weight order: the graph `build_model` has always built). Raises
    ValueError when the weights do not fit that architecture."""
    if isinstance(model, UNet):
        return model
    unet = UNet(**unet_arguments(config), dtype=model.dtype_policy)
    theirs, ours = model.weights, unet.weights
    if [tuple(w.shape) for w in theirs] != [tuple(w.shape) for w in ours]:
        raise ValueError(
            f"its {len(theirs)} weights do not fit the {len(ours)} of the {config.model.type} its config describes"
        )
    unet.set_weights(model.get_weights())
    return unet


def stock_model(model, config: Config):
    """`model` in stock Keras layers: itself when it holds no CPU form, otherwise the
    `UNet` of `config` with its weights (what files are saved from)."""
    if not uses_cpu_kernels(model):
        return model
    return as_unet(model, config)


def other_form(model, config: Config):
    """The same model in the other form, same weights: stock (the `UNet` of `config`) for a
    model in the CPU forms, the CPU forms for a stock one."""
    return stock_model(model, config) if uses_cpu_kernels(model) else use_cpu_kernels(model, "cpu")


def control_network_of(model) -> Optional[ControlNetwork]:
    """The `ControlNetwork` of a C-U-Net (a `UNet` or a functional model holding one); None
    for a dedicated U-Net."""
    if isinstance(model, UNet):
        return model.control_network
    return next((layer for layer in model.layers if isinstance(layer, ControlNetwork)), None)


def _producer(tensor):
    return tensor._keras_history.operation


def _sigmoid_output(model):
    """The tensor the model's mask sigmoid outputs: the model's output, or for an estimate
    `mask * magnitude` the factor a sigmoid produced; None if there is none."""
    if len(model.outputs) != 1:
        return None
    output = model.outputs[0]
    candidates = [output]
    if isinstance(_producer(output), keras.layers.Multiply):
        candidates = list(_producer(output).input)
    for tensor in candidates:
        layer = _producer(tensor)
        if getattr(layer, "activation", None) is keras.activations.sigmoid and isinstance(
            layer, keras.layers.Activation
        ):
            return tensor
    return None


def mask_block_of(model) -> Optional[MaskBlock]:
    """The `MaskBlock` of a `UNet`, of a functional model of the same graph, or of a model
    ending at the mask; None when the model does not end in Conv2DTranspose -> BatchNorm ->
    [Dropout] -> sigmoid."""
    if isinstance(model, UNet):
        return model.mask_block
    if not isinstance(model, keras.Model) or not hasattr(model, "outputs"):
        return None
    mask_output = _sigmoid_output(model)
    if mask_output is None:
        return None
    mask = _producer(mask_output)
    feeds, dropout = mask.input, None
    if isinstance(_producer(feeds), keras.layers.Dropout):
        dropout = _producer(feeds)
        feeds = dropout.input
    batchnorm = _producer(feeds)
    if not isinstance(batchnorm, keras.layers.BatchNormalization):
        return None
    deconv = _producer(batchnorm.input)
    if not isinstance(deconv, keras.layers.Conv2DTranspose):
        return None
    return MaskBlock(deconv, batchnorm, dropout, mask)
