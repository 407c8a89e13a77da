"""`cunet info`: parameter counts, input shapes and FLOPs of a config's or a saved model."""

HELP = "print a model's parameter counts (U-Net and control parts), input shapes and FLOPs"


def add_arguments(parser) -> None:
    from cunet.cli import options

    source = parser.add_mutually_exclusive_group()
    options.add_config(source)
    options.add_model(source, help="a saved cunet .keras model (instead of --config)")


def format_info(info, config) -> str:
    rows = [
        ("model", f"{info.name} ({config.name})"),
        ("inputs", ", ".join(f"{k} {v}" for k, v in info.input_shapes.items())),
        ("parameters, total", f"{info.total:,}"),
        ("parameters, trainable", f"{info.trainable:,}"),
        ("  U-Net part (trainable / total)", f"{info.unet_trainable:,} / {info.unet_total:,}"),
        ("  control part (trainable / total)", f"{info.control_trainable:,} / {info.control_total:,}"),
        ("FLOPs per patch (forward)", f"{info.flops_per_patch / 1e9:.3f} G"),
        ("audio", f"{config.audio.sample_rate} Hz, n_fft {config.audio.n_fft}, hop {config.audio.hop_length}"),
        ("instruments (condition order)", ", ".join(config.instruments)),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def run(args) -> int:
    from cunet.config import DEFAULT_CONFIG, load_config
    from cunet.model.files import load_model
    from cunet.model.info import model_info
    from cunet.model.unet import build_model
    from cunet.separation.runtimes import EMBEDDED_MODEL_NOTE, is_default_model

    if args.model:
        model, config = load_model(args.model)
    else:
        config = load_config(args.config or DEFAULT_CONFIG)
        model = build_model(config, compile=False)
    print(format_info(model_info(model), config))
    if args.model and is_default_model(args.model):
        print(f"note: {EMBEDDED_MODEL_NOTE}")
    return 0
