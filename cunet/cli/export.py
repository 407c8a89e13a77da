"""`cunet export`: a trained model's mask network as a LiteRT `.tflite` file."""

HELP = "export a model's mask network to a LiteRT .tflite file (separation without TensorFlow)"


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL.keras", help="a trained cunet .keras model")
    parser.add_argument(
        "--out",
        metavar="PATH",
        default=None,
        help="the .tflite file to write (default: beside the model, with the .tflite suffix)",
    )


def run(args) -> int:
    from pathlib import Path

    from cunet.model.export import export_tflite
    from cunet.model.files import ModelFileError, load_model

    source = Path(args.model)
    if source.suffix != ".keras":
        raise ModelFileError(f"model files end in .keras: {source}")
    out = Path(args.out) if args.out else source.with_suffix(".tflite")
    if out.suffix != ".tflite":
        raise ModelFileError(f"--out: LiteRT model files end in .tflite: {out}")
    model, config = load_model(source)
    export_tflite(model, config, out, source=source)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB; {config.name}, inputs "
        f"magnitude (batch, {config.patch.freq_bins}, {config.patch.frames}, 1)"
        f"{f', condition (batch, {len(config.instruments)})' if config.conditioned else ''})"
    )
    return 0
