"""Decoder blocks folded into one layer each, for export to LiteRT.

At inference a decoder block Conv2DTranspose (stride 2, 'same') -> BatchNorm -> [Dropout] ->
[ReLU] is one transposed convolution with a bias and a ReLU: BatchNorm is an affine map per
channel (it folds into the kernel and bias), Dropout is the identity, and bias and ReLU act
per channel, so they can come before the `depth_to_space` that interleaves the output phases.
The TFLite converter then fuses each convolution, its bias and its ReLU into one CONV_2D op.

The transposed convolution takes one of two exact forms: one convolution per output phase
(`conv_transpose_phases`, no zero taps) when each phase has at least `PHASES_MIN_FILTERS`
filters; otherwise the sub-pixel form (`cunet.kernels.convolutions`: one convolution of
4 x filters outputs, 11 of its 36 taps zero for a 5x5 kernel), which XNNPACK runs faster for
few filters (`scripts/bench_export_forms.py`, docs/BENCHMARKS.md).
"""

from __future__ import annotations

import keras
import numpy as np

from cunet.kernels.convolutions import add_bias_relu, conv_transpose_subpixel, subpixel_layout

PHASES_MIN_FILTERS = 16


def fold_batchnorm(kernel, bias, batchnorm) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) float32 of a transposed convolution (kernel (kh, kw, filters, in), bias
    (filters,) or None) followed by `batchnorm` in inference mode, as one transposed convolution."""
    kernel = np.asarray(kernel, np.float64)
    bias = np.zeros(kernel.shape[2]) if bias is None else np.asarray(bias, np.float64)
    scale = 1.0 / np.sqrt(np.asarray(batchnorm.moving_variance, np.float64) + batchnorm.epsilon)
    if batchnorm.scale:
        scale = scale * np.asarray(batchnorm.gamma, np.float64)
    shift = -np.asarray(batchnorm.moving_mean, np.float64) * scale
    if batchnorm.center:
        shift = shift + np.asarray(batchnorm.beta, np.float64)
    return (kernel * scale[None, None, :, None]).astype(np.float32), (bias * scale + shift).astype(np.float32)


def conv_transpose_phases(x, kernel, bias=None, relu=False):
    """`conv_transpose_subpixel` without its zero taps: one stride-1 convolution per output
    phase (a 5x5 kernel has 3x3, 3x2, 2x3 and 2x2 taps per phase, 25 in all, where the
    sub-pixel kernel computes 4 x 3x3 = 36), joined by `depth_to_space`. For export: the
    kernel is a constant.

    Args:
        x: (batch, h, w, in) float32.
        kernel: (kh, kw, filters, in) array.
        bias: (filters,) array or None, added (then ReLU when `relu`) to every phase.

    Returns:
        (batch, 2h, 2w, filters).
    """
    import tensorflow as tf

    kernel = np.asarray(kernel, np.float32)
    kh, kw, filters, channels = kernel.shape
    index, ((top, _), (left, _)) = subpixel_layout((kh, kw))
    taps = np.concatenate([kernel.reshape(kh * kw, filters, channels), np.zeros((1, filters, channels), np.float32)])
    phases = []
    for a in (0, 1):
        for b in (0, 1):
            used = index[:, :, a, b] < kh * kw
            rows, cols = np.flatnonzero(used.any(axis=1)), np.flatnonzero(used.any(axis=0))
            window = index[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1, a, b]
            phase_kernel = taps[window].transpose(0, 1, 3, 2)  # (th, tw, in, filters)
            # the phase reads padded rows rows[0] .. rows[-1] + h - 1 (top of them padding)
            inputs = _padded(x, (top - rows[0], rows[-1] - top), (left - cols[0], cols[-1] - left))
            phases.append(add_bias_relu(tf.nn.conv2d(inputs, phase_kernel, 1, "VALID"), bias, relu))
    return tf.nn.depth_to_space(tf.concat(phases, axis=-1), 2)


def _padded(x, rows, cols):
    """x (batch, h, w, c) with (before, after) zero rows and columns added; a negative count
    crops instead."""
    import tensorflow as tf

    if min(*rows, *cols) < 0:
        h, w = x.shape[1], x.shape[2]
        x = x[:, max(0, -rows[0]) : h - max(0, -rows[1]), max(0, -cols[0]) : w - max(0, -cols[1])]
    return tf.pad(x, [[0, 0], [max(0, rows[0]), max(0, rows[1])], [max(0, cols[0]), max(0, cols[1])], [0, 0]])


class FoldedConv2DTranspose(keras.layers.Layer):
    """A decoder block in inference mode: stride-2 'same' transposed convolution with bias,
    then ReLU when `relu`. Holds constants, not weights: for export only, never saved.

    Args:
        kernel: (kh, kw, filters, in) float32, BatchNorm folded in (`fold_batchnorm`).
        bias: (filters,) float32.
        relu: apply ReLU.

    Call arguments:
        x: (batch, h, w, in).

    Returns:
        (batch, 2h, 2w, filters).
    """

    def __init__(self, kernel, bias, relu: bool, **kwargs):
        super().__init__(**kwargs)
        self.kernel_value = np.asarray(kernel, np.float32)
        self.bias_value = np.asarray(bias, np.float32)
        self.relu = bool(relu)

    def call(self, x, **kwargs):
        import tensorflow as tf

        if self.kernel_value.shape[2] >= PHASES_MIN_FILTERS:
            return conv_transpose_phases(x, self.kernel_value, self.bias_value, self.relu)
        return conv_transpose_subpixel(x, tf.constant(self.kernel_value), tf.constant(self.bias_value), self.relu)


class _Identity(keras.layers.Layer):
    """What a folded BatchNorm, Dropout or ReLU becomes (accepts their call arguments)."""

    def call(self, x, **kwargs):
        return x


def folded_model(model):
    """A copy of a stock functional `model` (equal outputs in inference mode, to float
    precision) whose decoder blocks are `FoldedConv2DTranspose` layers; the layers folded into
    them become identities under their own names. For export only: the copy is not meant to be
    saved or trained."""
    consumers = _consumers(model)
    replacements = {}
    for layer in model.layers:
        block = _decoder_block(layer, consumers)
        if block is None:
            continue
        deconv, batchnorm, passed = block
        kernel, bias = fold_batchnorm(deconv.kernel, deconv.bias if deconv.use_bias else None, batchnorm)
        replacements[id(deconv)] = FoldedConv2DTranspose(kernel, bias, relu=bool(passed), name=deconv.name)
        for folded in [batchnorm, *passed]:
            replacements[id(folded)] = _Identity(name=folded.name)

    def clone(layer):
        return replacements.get(id(layer)) or layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if id(layer) not in replacements and layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy


def foldable(deconv) -> bool:
    """Whether a Conv2DTranspose is of the form both folded forms compute: stride 2, 'same',
    no dilation or output padding, channels last, no activation."""
    return (
        tuple(deconv.strides) == (2, 2)
        and deconv.padding == "same"
        and tuple(deconv.dilation_rate) == (1, 1)
        and deconv.output_padding is None
        and deconv.data_format == "channels_last"
        and deconv.activation in (None, keras.activations.linear)
    )


def _decoder_block(layer, consumers: dict):
    """(deconv, batchnorm, folded) when `layer` is a Conv2DTranspose (stride 2, 'same', no
    activation) whose output only a channels-last BatchNorm takes; `folded` is [Dropout, ReLU]
    or [ReLU] when a plain ReLU follows (through a Dropout), else []. None otherwise."""
    if not (type(layer) is keras.layers.Conv2DTranspose and foldable(layer)):
        return None
    batchnorm = _only(consumers.get(id(layer)))
    if not isinstance(batchnorm, keras.layers.BatchNormalization) or batchnorm.axis not in (-1, 3):
        return None
    passed, after = [], _only(consumers.get(id(batchnorm)))
    if isinstance(after, keras.layers.Dropout):
        passed, after = [after], _only(consumers.get(id(after)))
    plain_relu = (
        isinstance(after, keras.layers.ReLU)
        and after.max_value is None
        and after.negative_slope == 0
        and after.threshold == 0
    )
    return layer, batchnorm, [*passed, after] if plain_relu else []


def _consumers(model) -> dict:
    """{id(layer): [the layers of `model` that take its output]}."""
    consumers = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for tensor in keras.tree.flatten(layer.input):
            consumers.setdefault(id(tensor._keras_history.operation), []).append(layer)
    return consumers


def _only(layers):
    return layers[0] if layers and len(layers) == 1 else None
