"""`cunet prepare`: cache MUSDB18 stems at a config's rate for training."""

HELP = "cache MUSDB18 (or MUSDB18-HQ) stems, mono at the config's rate, for `cunet train`"


def add_arguments(parser) -> None:
    from cunet.cli import options

    options.add_musdb(parser)
    options.add_config(parser)
    parser.add_argument("--out", required=True, metavar="CACHE_DIR", help="cache folder to write")
    options.add_subset(parser, "train", "cache, split into train/valid when it is train")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="cache only the first N tracks (by name)")
    options.add_audio_backend(parser, "MUSDB18-HQ wav stems")
    options.add_jobs(parser, "tracks", auto_help="the number of cores, one worker process each")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def needs_tensorflow(args) -> bool:
    """Decoding, resampling and writing need no TensorFlow (its import alone takes seconds);
    the tensorflow-io decoder imports it itself."""
    return args.audio_backend == "tfio"


def run(args) -> int:
    from cunet.audio.reading import resolve_backend
    from cunet.config import DEFAULT_CONFIG, load_config
    from cunet.errors import CunetError
    from cunet.parallel import default_jobs
    from cunet.training.cache import prepare_cache

    if args.limit is not None and args.limit < 1:
        raise CunetError("--limit must be at least 1")
    config = load_config(args.config or DEFAULT_CONFIG)
    written = []
    cache = prepare_cache(
        args.musdb_root,
        config,
        args.out,
        is_wav=args.is_wav,
        subset=args.subset,
        progress=not args.quiet,
        limit=args.limit,
        on_track=lambda name, wrote: written.append(wrote),
        audio_backend=resolve_backend(args.audio_backend),
        jobs=args.jobs or default_jobs(),
    )
    train, valid = cache.split("train"), cache.split("valid")
    hours = sum(t.length for t in cache.tracks) / cache.sample_rate / 3600
    print(
        f"cache {cache.root}: {len(cache.tracks)} tracks ({len(train)} train, {len(valid)} valid), "
        f"{hours:.2f} h at {cache.sample_rate} Hz, {cache.nbytes() / 2**20:.1f} MiB; "
        f"{sum(written)} written, {len(written) - sum(written)} already cached"
    )
    return 0
