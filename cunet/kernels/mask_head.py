"""The mask block of a trained model in a faster inference form, for separation.

The last decoder block (`cunet.model.unet.MaskBlock`: Conv2DTranspose stride 2 'same' ->
BatchNorm -> sigmoid, dropout off at inference) has one output channel at the full patch
resolution, a shape for which oneDNN's transposed convolution is slow on CPU. At inference
the BatchNorm is an affine map per channel, so it folds into the kernel and bias, and the
transposed convolution runs in its sub-pixel form (`cunet.kernels.convolutions`). Separation uses this.
"""

from __future__ import annotations

from typing import Optional

from cunet.kernels.convolutions import conv_transpose_subpixel


class FoldedMaskHead:
    """The mask block as BatchNorm-folded sub-pixel convolution.

    Args:
        deconv: the block's `keras.layers.Conv2DTranspose` (stride 2, 'same', no activation).
        batchnorm: its `keras.layers.BatchNormalization` (channels last).

    Call arguments:
        x: (batch, freq / 2, frames / 2, in_channels), the block's input.

    Returns:
        mask (batch, freq, frames, filters) in [0, 1], equal to the block in inference mode.
    """

    def __init__(self, deconv, batchnorm):
        import tensorflow as tf

        from cunet.kernels.folded import fold_batchnorm

        kernel, bias = fold_batchnorm(deconv.kernel, deconv.bias if deconv.use_bias else None, batchnorm)
        self.kernel, self.bias = tf.constant(kernel), tf.constant(bias)

    def __call__(self, x):
        import tensorflow as tf

        return tf.sigmoid(conv_transpose_subpixel(x, self.kernel, self.bias))


def split_mask_model(model, config) -> Optional[tuple]:
    """(body, head) of a `UNet` or a functional model ending at its mask or estimate.

    `body`: a `keras.Model` from the model's inputs to the mask block's input, in the CPU
    forms of `cunet.kernels.switch` where they apply; `head`: the block's `FoldedMaskHead`.
    None when the model does not end in a `cunet.model.unet.MaskBlock` of this form (then
    the mask layer is used as it is). `config` is not needed (kept for callers)."""
    import keras

    from cunet.kernels.folded import foldable
    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.parts import mask_block_of

    block = mask_block_of(model)
    if block is None:
        return None
    deconv, batchnorm = block.deconv, block.batchnorm
    if not (foldable(deconv) and batchnorm.axis in (-1, 3)):
        return None
    body = use_cpu_kernels(keras.Model(model.input, deconv.input))
    return body, FoldedMaskHead(deconv, batchnorm)
