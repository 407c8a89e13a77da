"""Stride-2 transposed convolution as a sub-pixel convolution.

A stride-2 transposed convolution with TensorFlow's 'same' padding equals a stride-1
convolution with 4 x filters outputs, one per output phase, followed by `depth_to_space(2)`.
oneDNN's transposed convolution is slow on CPU when it has few output channels: for the
U-Net's mask block (1 channel at the full patch resolution) the sub-pixel form is about 2.7x
faster (docs/BENCHMARKS.md). Training (`SubPixelConv2DTranspose`) and the folded inference
head (`cunet.mask_head`) both use it.
"""

from __future__ import annotations

import keras
import numpy as np


def subpixel_layout(kernel_size):
    """(index, pads) for a (kh, kw) transposed-convolution kernel, stride 2, 'same' padding.

    `index` (th, tw, 2, 2) int: the flat tap i * kw + j of the transposed-convolution kernel
    that sub-pixel tap (d, e) of output phase (a, b) uses, or kh * kw where none does (zero).
    `pads` ((top, bottom), (left, right)): the input padding before the 'VALID' convolution.

    Output row o = 2m + a takes input rows m + d through tap o + before - 2(m + d) = a + before
    - 2d, where `before` = (k - 2) // 2 is the padding the matching forward convolution puts
    first.
    """
    axes = []
    for k in kernel_size:
        before = max(k - 2, 0) // 2
        taps = {(a, d): a + before - 2 * d for a in (0, 1) for d in range(-k, k + 1)}
        taps = {key: t for key, t in taps.items() if 0 <= t < k}
        lo = min(d for _, d in taps)
        hi = max(d for _, d in taps)
        axes.append((taps, lo, hi))
    (rows, r_lo, r_hi), (cols, c_lo, c_hi) = axes
    kh, kw = kernel_size
    index = np.full((r_hi - r_lo + 1, c_hi - c_lo + 1, 2, 2), kh * kw, dtype=np.int32)
    for (a, d), i in rows.items():
        for (b, e), j in cols.items():
            index[d - r_lo, e - c_lo, a, b] = i * kw + j
    pads = ((max(0, -r_lo), max(0, r_hi)), (max(0, -c_lo), max(0, c_hi)))
    return index, pads


def subpixel_kernel(kernel):
    """Transposed-convolution kernel (kh, kw, filters, in) -> sub-pixel kernel (th, tw, in,
    4 * filters), TensorFlow ops; phase (a, b) is output channel (2a + b) * filters + c, as
    `depth_to_space` reads it."""
    import tensorflow as tf

    kh, kw, filters, channels = kernel.shape
    index, _ = subpixel_layout((kh, kw))
    taps = tf.reshape(kernel, (kh * kw, filters, channels))
    taps = tf.concat([taps, tf.zeros((1, filters, channels), kernel.dtype)], axis=0)
    sub = tf.transpose(tf.gather(taps, index), (0, 1, 5, 2, 3, 4))
    return tf.reshape(sub, (*index.shape[:2], channels, 4 * filters))


def conv_transpose_subpixel(x, kernel):
    """`tf.nn.conv2d_transpose(x, kernel, stride 2, 'SAME')` to twice x's size, computed
    forward as a sub-pixel convolution; its gradients are the transposed convolution's own
    (TensorFlow's `Conv2DBackpropInput` gradient).

    Args:
        x: (batch, h, w, in) float32.
        kernel: (kh, kw, filters, in).

    Returns:
        (batch, 2h, 2w, filters).
    """
    import tensorflow as tf

    (top, bottom), (left, right) = subpixel_layout(kernel.shape[:2])[1]
    strides = (1, 2, 2, 1)

    @tf.custom_gradient
    def forward(x, kernel):
        padded = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
        y = tf.nn.depth_to_space(tf.nn.conv2d(padded, subpixel_kernel(kernel), 1, "VALID"), 2)

        def gradient(dy):
            dx = tf.nn.conv2d(dy, kernel, strides, "SAME")
            dkernel = tf.raw_ops.Conv2DBackpropFilter(
                input=dy, filter_sizes=tf.shape(kernel), out_backprop=x, strides=strides, padding="SAME"
            )
            return dx, dkernel

        return y, gradient

    return forward(x, kernel)


@keras.saving.register_keras_serializable(package="cunet")
class SubPixelConv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` whose stride-2 forward pass is a sub-pixel convolution.

    Same weights, configuration, outputs and gradients as the Keras layer (tests compare
    them). On the TensorFlow backend, for float32 channels-last inputs, stride 2, 'same'
    padding, no dilation and no output padding, the forward pass is
    `conv_transpose_subpixel`; everything else is the Keras layer unchanged. Worth it where
    the layer has few filters (the U-Net's mask block).

    Call arguments:
        inputs: (batch, h, w, in_channels).

    Returns:
        (batch, 2h, 2w, filters) on the sub-pixel path.
    """

    def _subpixel(self, inputs) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and inputs.dtype == "float32"
            and self.data_format == "channels_last"
            and tuple(self.strides) == (2, 2)
            and self.padding == "same"
            and tuple(self.dilation_rate) == (1, 1)
            and self.output_padding is None
        )

    def call(self, inputs):
        if not self._subpixel(inputs):
            return super().call(inputs)
        import tensorflow as tf

        outputs = conv_transpose_subpixel(inputs, tf.convert_to_tensor(self.kernel))
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
