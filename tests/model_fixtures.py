"""Tiny models with weights that make masks vary, shared by the separation and runtime tests."""

import numpy as np

# tiny model variants (model-section overrides of configs/tiny.yaml): a complex-dense C-U-Net,
# a simple-cnn C-U-Net and a dedicated U-Net
TINY_VARIANTS = {
    "cunet": {},
    "cunet-simple-cnn": {
        "film": "simple",
        "control": "cnn",
        "control_units": [8, 16],
        "control_padding": ["same", "valid"],
    },
    "unet": {"type": "unet", "target": "vocals"},
}


def randomize(model, seed: int) -> None:
    """Weights and BatchNorm statistics away from their initial values (kernels scaled by
    their fan-in, as in a trained model), so the masks spread over (0, 1)."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        name, shape = weight.path, tuple(weight.shape)
        if "moving_variance" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("gamma"):  # BatchNorm scales
            value = rng.uniform(0.8, 1.5, shape)
        elif len(shape) >= 2:  # kernels
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
        else:  # biases, BatchNorm offsets and means
            value = rng.normal(0.0, 0.1, shape)
        weight.assign(value.astype("float32"))


def sharpened_model(config):
    """A model of `config` with its initial kernels scaled up and tiny BatchNorm variances,
    so that masks vary strongly over time, frequency and condition."""
    from cunet.model.unet import build_model

    model = build_model(config, compile=False)
    for layer in model.layers:
        if "conv" in layer.name:
            kernel, *rest = layer.get_weights()
            layer.set_weights([kernel * 10, *rest])
        if layer.name.endswith("_bn"):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma, beta, mean, var * 0 + 1e-3])
    return model
