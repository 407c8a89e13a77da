"""Mask estimation on Keras' JAX backend: the mask network compiled by `jax.jit`.

`JaxMasks` implements `cunet.separation.masks.MaskEstimator` like `TensorFlowMasks`, with the
same model file, so a machine with JAX on a GPU and no TensorFlow GPU build (or no TensorFlow
at all) separates on its GPU. The rest of separation is NumPy already. Masks equal
`TensorFlowMasks`' within 1e-4 (tests/training/test_jax_backend.py).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from cunet.config import Config
from cunet.errors import CunetError


class JaxMasks:
    """The mask (`UNet.mask_block`) of a cunet Keras model in inference mode, as one
    `jax.jit`-compiled function of the weights and a batch. Implements `MaskEstimator`.

    Every call runs batches of exactly `batch_size` patches (the last one zero-padded), so the
    function is compiled once, on the first call. The weights are put on JAX's default device
    (the GPU when there is one) once.

    Args:
        model: a cunet `keras.Model` (C-U-Net or dedicated U-Net) built on the JAX backend.
        config: its `Config`.
        batch_size: patches per compiled call.
    """

    def __init__(self, model, config: Config, batch_size: int = 16):
        # JAX and Keras here, not at the top: `cunet.separation.runtimes` names this module
        import jax
        import keras

        from cunet.model.parts import as_unet

        if keras.backend.backend() != "jax":
            raise CunetError(
                f"JaxMasks needs the Keras JAX backend (KERAS_BACKEND=jax), this process runs {keras.backend.backend()}"
            )
        self.model = model = as_unet(model, config)
        self.config = config
        self.batch_size = int(batch_size)
        self.mask_model = mask_model = keras.Model(model.input, model.mask_block.mask.output)
        self.device = jax.devices()[0]
        self._weights = jax.device_put(
            ([v.value for v in mask_model.trainable_variables], [v.value for v in mask_model.non_trainable_variables]),
            self.device,
        )

        def forward(weights, inputs):
            out, _ = mask_model.stateless_call(*weights, inputs, training=False)
            return out[..., 0]

        self._forward = jax.jit(forward)

    def __call__(self, patches: np.ndarray, condition: Optional[np.ndarray] = None) -> np.ndarray:
        patches = np.asarray(patches, np.float32)
        count, size = len(patches), self.batch_size
        out = []
        for i in range(0, count, size):
            batch = patches[i : i + size]
            if len(batch) < size:
                batch = np.concatenate([batch, np.zeros((size - len(batch), *batch.shape[1:]), np.float32)])
            inputs = (
                [batch]
                if condition is None
                else [batch, np.repeat(np.asarray(condition, np.float32)[None], size, axis=0)]
            )
            out.append(self._forward(self._weights, inputs))
        masks = (
            np.concatenate([np.asarray(m) for m in out], axis=0)[:count]
            if out
            else np.zeros((0, *patches.shape[1:3]), np.float32)
        )
        return masks
