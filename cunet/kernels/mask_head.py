"""The mask block of a trained model in a faster inference form, for separation.

The last decoder block (`cunet.model.unet.MaskBlock`: Conv2DTranspose stride 2 'same' ->
BatchNorm -> sigmoid, dropout off at inference) has one output channel at the full patch
resolution, a shape for which oneDNN's transposed convolution is slow on CPU. At inference
the BatchNorm is an affine map per channel, so it folds into the kernel and bias, and the
transposed convolution runs in its sub-pixel form (`cunet.kernels.convolutions`). Separation uses this;
the caller finds the block (`cunet.model.parts.mask_block_of`) and hands it over.
"""

from __future__ import annotations

from typing import Optional

import keras

from cunet.kernels.convolutions import conv_transpose_subpixel
from cunet.kernels.folded import fold_batchnorm, foldable
from cunet.kernels.switch import use_cpu_kernels


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

        kernel, bias = fold_batchnorm(deconv.kernel, deconv.bias if deconv.use_bias else None, batchnorm)
        self.kernel, self.bias = tf.constant(kernel), tf.constant(bias)

    def __call__(self, x):
        import tensorflow as tf

        return tf.sigmoid(conv_transpose_subpixel(x, self.kernel, self.bias))


def split_mask_model(model, block) -> Optional[tuple]:
    """(body, head) of a model ending at its mask or estimate, given its mask `block` (a
    `cunet.model.unet.MaskBlock`, e.g. from `cunet.model.parts.mask_block_of`, or None).

    `body`: a `keras.Model` from the model's inputs to the mask block's input, in the CPU
    forms of `cunet.kernels.switch` where they apply; `head`: the block's `FoldedMaskHead`.
    None when there is no block or it is not of this form (then the mask layer is used as
    it is)."""
    if block is None:
        return None
    deconv, batchnorm = block.deconv, block.batchnorm
    if not (foldable(deconv) and batchnorm.axis in (-1, 3)):
        return None
    body = use_cpu_kernels(keras.Model(model.input, deconv.input))
    return body, FoldedMaskHead(deconv, batchnorm)
