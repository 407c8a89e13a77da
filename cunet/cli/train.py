"""`cunet train`: train a C-U-Net or a dedicated U-Net from a stem cache, resumably."""

HELP = "train a C-U-Net (or a dedicated U-Net) on a cache made by `cunet prepare`, or on a MUSDB18 root; resumable"

CACHE_SUBDIR = "cache"


def add_arguments(parser) -> None:
    from cunet.cli import options

    options.add_config(parser, "; a dedicated U-Net config names its target instrument")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", metavar="CACHE_DIR", help="stem cache written by `cunet prepare` with the same config")
    data.add_argument(
        "--musdb-root",
        metavar="DIR",
        help=f"MUSDB18 root (or `cunet synth` output with --is-wav): its train/ songs are cached first "
        f"into RUN_DIR/{CACHE_SUBDIR} (as `cunet prepare`; cached tracks are kept)",
    )
    parser.add_argument(
        "--is-wav", action="store_true", help="--musdb-root is MUSDB18-HQ (a folder of wav stems per track)"
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="RUN_DIR",
        help="run directory: checkpoints, logs, resolved config; the same command started again resumes the run",
    )
    parser.add_argument(
        "--init",
        default=None,
        metavar="MODEL.keras",
        help="start a fresh run from this model's weights (same architecture: "
        "fine-tuning, e.g. cunet/pretrained/cunet-default.keras); "
        "ignored when the run resumes",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="N",
        help="global batch size over all replicas (default: config)",
    )
    parser.add_argument("--steps-per-epoch", type=int, default=None, metavar="N")
    parser.add_argument("--epochs", type=int, default=None, metavar="N")
    parser.add_argument("--learning-rate", type=float, default=None, metavar="LR")
    parser.add_argument(
        "--validation-steps",
        type=int,
        default=None,
        metavar="N",
        help="validation batches per epoch (0: the whole validation set)",
    )
    parser.add_argument("--seed", type=int, default=None, metavar="N")
    parser.add_argument(
        "--mixed-precision",
        nargs="?",
        const="auto",
        default=None,
        choices=("auto", "bfloat16", "float16"),
        help="16-bit compute, float32 weights: bfloat16 or float16; alone (auto): "
        "float16 on a TensorFlow GPU, bfloat16 elsewhere (JAX GPUs too)",
    )
    parser.add_argument(
        "--jit", action="store_true", help="compile the train step with XLA (always on with --backend jax)"
    )
    options.add_backend(parser, "training")
    options.add_strategy(parser)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="stop after the last epoch that fits in this wall time; the same command continues the run later",
    )
    parser.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def resolved_config(args):
    """The config of `--config` with the command-line overrides applied."""
    from cunet.config import DEFAULT_CONFIG, load_config
    from cunet.training.run import TrainingError

    config = load_config(args.config or DEFAULT_CONFIG)
    overrides = {
        key: value
        for key, value in {
            "batch_size": args.batch_size,
            "steps_per_epoch": args.steps_per_epoch,
            "epochs": args.epochs,
            "learning_rate": args.learning_rate,
            "validation_steps": args.validation_steps,
            "seed": args.seed,
        }.items()
        if value is not None
    }
    for key in ("batch_size", "steps_per_epoch", "epochs"):
        if key in overrides and overrides[key] < 1:
            raise TrainingError(f"--{key.replace('_', '-')} must be at least 1")
    if overrides.get("validation_steps", 0) < 0:
        raise TrainingError("--validation-steps must be 0 or more")
    if args.time_limit is not None and not args.time_limit > 0:
        raise TrainingError("--time-limit must be positive")
    if "learning_rate" in overrides and not overrides["learning_rate"] > 0:
        raise TrainingError("--learning-rate must be positive")
    return config.replace(training=overrides) if overrides else config


def run(args) -> int:
    import sys

    from cunet.training.run import train

    config = resolved_config(args)
    result = train(
        config,
        args.data or _cache_of_root(args, config),
        args.out,
        strategy=args.strategy,
        mixed_precision=args.mixed_precision or False,
        jit=args.jit,
        verbose=0 if args.quiet else "auto",
        command=["cunet", *sys.argv[1:]] if sys.argv[1:2] == ["train"] else ["cunet", "train", *_argv_of(args)],
        tensorboard=not args.no_tensorboard,
        time_limit_s=None if args.time_limit is None else args.time_limit * 60,
        init=args.init,
    )
    if not args.quiet:
        best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.5f}"
        how = (
            "stopped early"
            if result.stopped_early
            else "time limit reached (run the same command to continue)"
            if result.timed_out
            else "done"
        )
        resumed = f", resumed at epoch {result.initial_epoch}" if result.initial_epoch else ""
        print(
            f"cunet train: {how}: {result.epochs_done} epochs{resumed}, best validation loss {best}; "
            f"models in {result.run_dir}"
        )
    return 0


def _cache_of_root(args, config) -> str:
    """Cache `--musdb-root`'s train songs in the run directory; the cache's path."""
    from pathlib import Path

    from cunet.parallel import default_jobs
    from cunet.training.cache import prepare_cache

    out = Path(args.out).expanduser() / CACHE_SUBDIR
    cache = prepare_cache(
        args.musdb_root, config, out, is_wav=args.is_wav, progress=not args.quiet, jobs=default_jobs()
    )
    if not args.quiet:
        print(f"cache {cache.root}: {len(cache.tracks)} tracks")
    return str(out)


def _argv_of(args) -> list[str]:
    """The command line rebuilt from parsed arguments (when called from Python)."""
    out = []
    for key, value in vars(args).items():
        if key in ("command", "run") or value in (None, False):
            continue
        flag = "--" + key.replace("_", "-")
        out += [flag] if value is True else [flag, str(value)]
    return out
