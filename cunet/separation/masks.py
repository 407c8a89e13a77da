"""Mask estimation: magnitude patches and a condition in, the model's sigmoid masks out.

`MaskEstimator` is the one interface the separator needs from a runtime; `TensorFlowMasks`
implements it with the Keras model traced as a TensorFlow graph (the reference runtime).
"""

from __future__ import annotations

import threading
from typing import Optional, Protocol

import numpy as np

from cunet.config import Config


class MaskEstimator(Protocol):
    """Masks of magnitude patches.

    Call arguments:
        patches: (N, freq_bins, frames, 1) float32, normalized magnitudes.
        condition: (n_instruments,) float32, the same for every patch; None for a dedicated U-Net.

    Returns:
        (N, freq_bins, frames) float32 in [0, 1]. Safe to call from several threads.
    """

    def __call__(self, patches: np.ndarray, condition: Optional[np.ndarray]) -> np.ndarray: ...


class TensorFlowMasks:
    """The mask (`UNet.mask_block`) of a cunet Keras model, in inference
    mode, traced once as a graph for any batch size, with its last block in the faster folded
    form of `cunet.kernels.mask_head` when the model has one. Implements `MaskEstimator`.

    Args:
        model: a cunet `keras.Model` (C-U-Net or dedicated U-Net).
        config: its `Config`.
        batch_size: patches per graph call.
    """

    def __init__(self, model, config: Config, batch_size: int = 16):
        # Keras here, not at the top: the LiteRT path imports this module (`MaskEstimator`)
        import keras

        from cunet.model.parts import as_unet

        self.model = model = as_unet(model, config)
        self.config = config
        self.batch_size = int(batch_size)
        self.mask_model = keras.Model(model.input, model.mask_block.mask.output)
        self._graph = None
        self._lock = threading.Lock()

    def __call__(self, patches: np.ndarray, condition: Optional[np.ndarray] = None) -> np.ndarray:
        graph = self._traced()
        out = []
        for i in range(0, len(patches), self.batch_size):
            batch = patches[i : i + self.batch_size]
            inputs = [batch] if condition is None else [batch, np.repeat(condition[None], len(batch), axis=0)]
            out.append(np.asarray(graph(inputs))[..., 0])
        return np.concatenate(out, axis=0)

    def _traced(self):
        if self._graph is None:
            with self._lock:  # model threads may arrive together: trace once
                if self._graph is None:
                    self._graph = self._trace()
        return self._graph

    def _trace(self):
        import tensorflow as tf

        from cunet.kernels.mask_head import split_mask_model  # Keras: not on the LiteRT path
        from cunet.model.parts import mask_block_of

        model = self.mask_model
        p = self.config.patch
        signature = [tf.TensorSpec((None, p.freq_bins, p.frames, 1), tf.float32)]
        if self.config.conditioned:
            signature.append(tf.TensorSpec((None, len(self.config.instruments)), tf.float32))
        split = split_mask_model(model, mask_block_of(model))
        if split is None:
            forward = lambda x: model(x, training=False)  # noqa: E731
        else:
            body, head = split
            forward = lambda x: head(body(x, training=False))  # noqa: E731

        @tf.function(input_signature=signature)
        def call(*inputs):
            return forward(list(inputs) if len(inputs) > 1 else inputs[0])

        # the concrete graph, called directly: several separators (e.g. four dedicated U-Nets
        # in `cunet evaluate`) then do not trip tf.function's retracing warning
        concrete = call.get_concrete_function()
        return lambda inputs: concrete(*[tf.convert_to_tensor(x, tf.float32) for x in inputs])
