"""`cunet separate`: separate instruments from song files (any format ffmpeg or libsndfile reads)."""

HELP = "separate instruments from song files: writes OUT_DIR/<song>/<instrument>.<format>"


def add_arguments(parser) -> None:
    from cunet.cli import options

    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files or folders of audio files")
    options.add_model(parser)
    options.add_instrument(parser)
    parser.add_argument("--residual", action="store_true", help="also write residual.<format>: the song minus the estimates")
    parser.add_argument("--wiener", action="store_true", help="Wiener post-filter across the requested instruments")
    parser.add_argument("--wiener-iterations", type=int, default=1, metavar="N",
                        help="EM steps of the multichannel Wiener filter (default 1; 0: power-ratio masks only)")
    parser.add_argument("--out-dir", "-o", required=True, help="output folder")
    options.add_format(parser)
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument("--skip-existing", action="store_true",
                          help="skip inputs whose outputs all exist (resume an interrupted batch)")
    parser.add_argument("--overlap", type=float, default=0.25, help="patch overlap fraction (default 0.25)")
    options.add_audio_backend(parser, "the inputs")
    options.add_backend(parser, "the mask network")
    parser.add_argument("--block-seconds", type=float, default=10.0, help="seconds per processing block (bounds memory)")


def run(args) -> int:
    import soundfile as sf

    from cunet.audio.reading import resolve_backend
    from cunet.errors import CunetError
    from cunet.separation.files import check_inputs, check_out_dir, collect_inputs, output_names, plan_outputs
    from cunet.separation.separator import Separator

    files = collect_inputs(args.inputs, args.out_dir)
    backend = resolve_backend(args.audio_backend)
    if args.wiener_iterations < 0:
        raise CunetError(f"--wiener-iterations must be >= 0, got {args.wiener_iterations}")
    separator = Separator.load(
        args.model, runtime="jax" if args.backend == "jax" else "tensorflow", overlap=args.overlap, block_seconds=args.block_seconds, wiener_iterations=args.wiener_iterations
    )
    names = output_names(separator, args.instrument, args.residual)
    plan = plan_outputs(files, names, args.out_dir, args.format, args.overwrite, args.skip_existing)
    skipped = [f for f in files if f not in plan]
    files = [f for f in files if f in plan]
    if skipped:
        print(f"skipping {len(skipped)} input(s) already separated in {args.out_dir}")
    check_inputs(files, backend)  # every input is checked before anything is written
    check_out_dir(args.out_dir)

    for f in files:
        written = separator.separate_file(f, args.out_dir, args.instrument, residual=args.residual, wiener=args.wiener,
                                          fmt=args.format, overwrite=args.overwrite, backend=backend)
        info = sf.info(str(next(iter(written.values()))))
        folder = next(iter(written.values())).parent
        print(f"{f} -> {folder}/ ({', '.join(p.name for p in written.values())}; "
              f"{info.samplerate} Hz, {info.channels} ch, {info.frames / info.samplerate:.1f} s)")
    return 0
