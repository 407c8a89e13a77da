"""Stride-2 'same' convolutions in the forms oneDNN runs fastest on a CPU.

The U-Net's convolutions and transposed convolutions are 5x5, stride 2, 'same'. oneDNN
runs two of their shapes far below its usual speed on CPU (docs/BENCHMARKS.md):

- a transposed convolution with few filters (the mask block: 1 channel at the full patch
  resolution). It equals a stride-1 convolution with 4 x filters outputs, one per output
  phase, followed by `depth_to_space(2)` (a "sub-pixel" convolution);
- small feature maps (the deepest block: 8 x 2 positions, 256 <-> 512 channels). There a
  convolution is one matrix product of the image patches and the kernel, its kernel
  gradient another on the same patches, and its input gradient (the forward pass of a
  transposed convolution) a third, summed back into place.

`StridedConv2D` and `StridedConv2DTranspose` are Keras' layers with the same weights,
configuration, outputs and gradients, which take these forms for such shapes on the
TensorFlow backend. `cunet.kernels.mask_head` uses the sub-pixel form at inference.
"""

from __future__ import annotations

import keras
import numpy as np

# shapes that take the faster forms, measured on a 2-core AVX2 CPU (docs/BENCHMARKS.md)
SUBPIXEL_MAX_FILTERS = 4
GEMM_MAX_POSITIONS = 32  # output positions per example of a convolution, input ones of a transposed one
STRIDES = (1, 2, 2, 1)


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


def conv_transpose_subpixel(x, kernel, bias=None, relu=False):
    """`tf.nn.conv2d_transpose(x, kernel, stride 2, 'SAME')` to twice x's size, as a sub-pixel
    convolution, plus `bias` and then ReLU when given (applied before `depth_to_space`, where
    a converter fuses them into the convolution).

    Args:
        x: (batch, h, w, in) float32.
        kernel: (kh, kw, filters, in).
        bias: (filters,) or None.

    Returns:
        (batch, 2h, 2w, filters).
    """
    import tensorflow as tf

    (top, bottom), (left, right) = subpixel_layout(kernel.shape[:2])[1]
    padded = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    y = tf.nn.conv2d(padded, subpixel_kernel(kernel), 1, "VALID")
    return tf.nn.depth_to_space(add_bias_relu(y, None if bias is None else tf.tile(bias, [4]), relu), 2)


def add_bias_relu(y, bias, relu: bool):
    """`y + bias` (when `bias` is not None), then ReLU when `relu`: TensorFlow ops."""
    import tensorflow as tf

    y = y if bias is None else y + bias
    return tf.nn.relu(y) if relu else y


def image_patches(x, kernel_size):
    """The patches a stride-2 'same' convolution of `kernel_size` reads, one row per output
    position: (batch, h, w, c) -> (batch * ceil(h / 2) * ceil(w / 2), kh * kw * c), ordered
    like a (kh, kw, c, filters) kernel reshaped to (kh * kw * c, filters)."""
    import tensorflow as tf

    pads = []
    for size, k in zip(x.shape[1:3], kernel_size):
        total = max((-(-size // 2) - 1) * 2 + k - size, 0)
        pads.append([total // 2, total - total // 2])
    padded = tf.pad(x, [[0, 0], *pads, [0, 0]])
    patches = tf.image.extract_patches(padded, [1, *kernel_size, 1], STRIDES, [1, 1, 1, 1], "VALID")
    return tf.reshape(patches, (-1, patches.shape[-1]))


def patches_to_image(patches, like, kernel_size):
    """The adjoint of `image_patches`: sums each patch row back onto the positions it was read
    from, giving a tensor shaped like `like` (only its shape is used; TensorFlow prunes the
    patch extraction in graphs)."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(like)
        read = image_patches(like, kernel_size)
    return tape.gradient(read, like, output_gradients=patches)


def conv2d_gemm(x, kernel):
    """`tf.nn.conv2d(x, kernel, 2, 'SAME')` as a matrix product of `image_patches` and the
    kernel; the kernel gradient is the transposed patches times the output gradient, the
    input gradient the output gradient times the transposed kernel, put back in place by
    `patches_to_image`.

    Args:
        x: (batch, h, w, in) float32, static h and w.
        kernel: (kh, kw, in, filters).

    Returns:
        (batch, ceil(h / 2), ceil(w / 2), filters).
    """
    import tensorflow as tf

    kh, kw, _, filters = kernel.shape
    out_h, out_w = -(-x.shape[1] // 2), -(-x.shape[2] // 2)

    @tf.custom_gradient
    def convolve(x, kernel):
        patches = image_patches(x, (kh, kw))
        y = tf.reshape(patches @ tf.reshape(kernel, (-1, filters)), (-1, out_h, out_w, filters))

        def gradient(dy):
            dy = tf.reshape(dy, (-1, filters))
            dx = patches_to_image(tf.matmul(dy, tf.reshape(kernel, (-1, filters)), transpose_b=True), x, (kh, kw))
            dkernel = tf.matmul(patches, dy, transpose_a=True)
            return dx, tf.reshape(dkernel, kernel.shape)

        return y, gradient

    return convolve(x, kernel)


def conv2d_transpose(x, kernel, subpixel: bool, gemm: bool):
    """`tf.nn.conv2d_transpose(x, kernel, stride 2, 'SAME')` to twice x's size, forward as a
    sub-pixel convolution if `subpixel`. If `gemm`, the forward pass is x times the
    transposed kernel put in place by `patches_to_image`, and the gradients (a convolution of
    the output gradient and a kernel gradient) are matrix products with the output gradient's
    `image_patches`; otherwise TensorFlow's own kernels.

    Args:
        x: (batch, h, w, in) float32, static h and w.
        kernel: (kh, kw, filters, in).

    Returns:
        (batch, 2h, 2w, filters).
    """
    import tensorflow as tf

    kh, kw, filters, channels = kernel.shape

    @tf.custom_gradient
    def convolve(x, kernel):
        shape = tf.stack([tf.shape(x)[0], 2 * x.shape[1], 2 * x.shape[2], filters])
        if subpixel:
            y = conv_transpose_subpixel(x, kernel)
        elif gemm:
            columns = tf.matmul(tf.reshape(x, (-1, channels)), tf.reshape(kernel, (-1, channels)), transpose_b=True)
            y = patches_to_image(columns, tf.zeros(shape, x.dtype), (kh, kw))
        else:
            y = tf.nn.conv2d_transpose(x, kernel, shape, STRIDES, "SAME")

        def gradient(dy):
            if not gemm:
                dx = tf.nn.conv2d(dy, kernel, STRIDES, "SAME")
                dkernel = tf.raw_ops.Conv2DBackpropFilter(
                    input=dy, filter_sizes=tf.shape(kernel), out_backprop=x, strides=STRIDES, padding="SAME"
                )
                return dx, dkernel
            patches = image_patches(dy, (kh, kw))
            dx = tf.reshape(patches @ tf.reshape(kernel, (-1, channels)), tf.shape(x))
            dkernel = tf.matmul(patches, tf.reshape(x, (-1, channels)), transpose_a=True)
            return dx, tf.reshape(dkernel, kernel.shape)

        return y, gradient

    return convolve(x, kernel)


def _plain_stride_2(layer, inputs) -> bool:
    """TensorFlow backend, float32, channels last with static spatial sizes, stride 2,
    'same', no dilation: the shapes the faster forms are written for."""
    return (
        keras.backend.backend() == "tensorflow"
        and inputs.dtype == "float32"
        and len(inputs.shape) == 4
        and None not in tuple(inputs.shape[1:3])
        and layer.data_format == "channels_last"
        and tuple(layer.strides) == (2, 2)
        and layer.padding == "same"
        and tuple(layer.dilation_rate) == (1, 1)
    )


def _bias_and_activation(layer, outputs):
    if layer.use_bias:
        outputs = outputs + layer.bias
    return outputs if layer.activation is None else layer.activation(outputs)


@keras.saving.register_keras_serializable(package="cunet")
class StridedConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` that computes small stride-2 feature maps as a matrix product.

    With at most `GEMM_MAX_POSITIONS` output positions per example (stride 2, 'same', float32,
    TensorFlow backend) the layer runs `conv2d_gemm`; otherwise it is the Keras layer. Same
    weights, configuration, outputs and gradients either way.

    Call arguments:
        inputs: (batch, h, w, in_channels).

    Returns:
        (batch, ceil(h / 2), ceil(w / 2), filters) for stride 2, 'same'.
    """

    def call(self, inputs):
        if not (_plain_stride_2(self, inputs) and self.groups == 1):
            return super().call(inputs)
        positions = -(-inputs.shape[1] // 2) * -(-inputs.shape[2] // 2)
        if positions > GEMM_MAX_POSITIONS:
            return super().call(inputs)
        import tensorflow as tf

        return _bias_and_activation(self, conv2d_gemm(inputs, tf.convert_to_tensor(self.kernel)))


@keras.saving.register_keras_serializable(package="cunet")
class StridedConv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` in the faster stride-2 forms for its shape.

    With stride 2, 'same', no output padding, float32 on the TensorFlow backend, the layer
    runs `conv2d_transpose`: forward as a sub-pixel convolution when it has at most
    `SUBPIXEL_MAX_FILTERS` filters; gradients, and the forward pass unless sub-pixel, as
    matrix products when its input has at most `GEMM_MAX_POSITIONS` positions per example.
    Otherwise it is the Keras layer. Same weights, configuration, outputs and gradients
    either way.

    Call arguments:
        inputs: (batch, h, w, in_channels).

    Returns:
        (batch, 2h, 2w, filters) for stride 2, 'same'.
    """

    def call(self, inputs):
        if not (_plain_stride_2(self, inputs) and self.output_padding is None):
            return super().call(inputs)
        subpixel = self.filters <= SUBPIXEL_MAX_FILTERS
        gemm = inputs.shape[1] * inputs.shape[2] <= GEMM_MAX_POSITIONS
        if not (subpixel or gemm):
            return super().call(inputs)
        import tensorflow as tf

        outputs = conv2d_transpose(inputs, tf.convert_to_tensor(self.kernel), subpixel, gemm)
        return _bias_and_activation(self, outputs)
