"""`cunet evaluate`: museval scores of models, dedicated U-Nets and the floor/ceiling baselines."""

HELP = "score models on MUSDB18 with museval (SDR/SIR/SAR/ISR), with mixture floor and IRM ceiling"


def add_arguments(parser) -> None:
    from cunet.cli import options

    options.add_musdb(parser, "MUSDB18 (or MUSDB18-HQ with --is-wav) root")
    options.add_subset(parser, "test", "score")
    parser.add_argument("--tracks", type=int, metavar="N", help="score only the first N tracks (sorted by name)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (re-running resumes)")
    options.add_model(
        parser,
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="a saved cunet model (.keras); repeatable; the method is named after the file "
        "(or its folder for best.keras) unless NAME= is given",
    )
    parser.add_argument(
        "--dedicated",
        action="append",
        default=[],
        metavar="INSTRUMENT=PATH",
        help="a dedicated U-Net per target, assembled into one method; repeat for every target",
    )
    parser.add_argument(
        "--dedicated-name",
        default="dedicated-unets",
        metavar="NAME",
        help="method name of the --dedicated models (default: dedicated-unets)",
    )
    parser.add_argument(
        "--baselines",
        default="mixture,irm",
        metavar="LIST",
        help="comma list of mixture (floor), irm (oracle ceiling), or none (default: mixture,irm)",
    )
    parser.add_argument(
        "--targets",
        default="vocals,drums,bass,other",
        metavar="LIST",
        help="comma list of MUSDB18 targets scored jointly (default: vocals,drums,bass,other)",
    )
    options.add_runtime(parser)
    options.add_jobs(
        parser,
        "tracks",
        auto_help="the number of cores, bounded by available memory "
        "(one worker process per job, each with its own copy of the models)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _split(text: str) -> list:
    return [part.strip() for part in text.split(",") if part.strip()]


def _named_models(values) -> list:
    """`[NAME=]PATH` values -> [(name or None, path)]; a path may itself contain '='."""
    from pathlib import Path

    models = []
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name and "/" not in name and not Path(value).is_file():
            models.append((name, Path(path)))
        else:
            models.append((None, Path(value)))
    return models


def _dedicated_paths(values) -> dict:
    from pathlib import Path

    from cunet.evaluation import EvaluationError
    from cunet.musdb import STEMS

    paths = {}
    for value in values:
        target, sep, path = value.partition("=")
        if not sep or not path:
            raise EvaluationError(f"--dedicated takes INSTRUMENT=PATH, got {value!r}")
        if target not in STEMS:
            raise EvaluationError(f"--dedicated {value}: unknown instrument {target!r} (one of {', '.join(STEMS)})")
        if target in paths:
            raise EvaluationError(f"--dedicated gives two U-Nets for {target!r}")
        paths[target] = Path(path)
    return paths


def needs_tensorflow(args) -> bool:
    """Only models on the TensorFlow runtime need TensorFlow; LiteRT, the baselines and museval
    do not (its import alone takes seconds, before any `--jobs` worker starts)."""
    from cunet.separation.runtimes import resolve_runtime

    paths = [path for _, path in _named_models(args.model)]
    paths += [value.partition("=")[2] for value in args.dedicated]
    return any(resolve_runtime(path, args.runtime) == "tensorflow" for path in paths if path)


def run(args) -> int:
    from pathlib import Path

    from cunet.evaluation import EvaluationError
    from cunet.evaluation.baselines import BASELINES
    from cunet.evaluation.methods import check_targets, dedicated_method, irm_method, mixture_method, model_method
    from cunet.evaluation.report import sdr_table, write_reports
    from cunet.evaluation.run import default_jobs, run_evaluation
    from cunet.musdb import discover_tracks

    targets = check_targets(_split(args.targets))
    baselines = _split(args.baselines)
    if baselines == ["none"]:
        baselines = []
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise EvaluationError(
            f"unknown baseline {', '.join(map(repr, unknown))} (known: {', '.join(BASELINES)}, or none)"
        )
    if args.tracks is not None and args.tracks < 1:
        raise EvaluationError(f"--tracks must be at least 1, got {args.tracks}")
    tracks = discover_tracks(args.musdb_root, args.subset, args.is_wav, args.tracks)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise EvaluationError(f"--out {out} exists and is not a folder")

    methods = []
    model_paths = _named_models(args.model)
    for name, path in model_paths:
        methods.append(model_method(path, targets, name=name, runtime=args.runtime))
    dedicated = _dedicated_paths(args.dedicated)
    if dedicated:
        methods.append(dedicated_method(dedicated, targets, args.dedicated_name, runtime=args.runtime))
    # The oracle masks on the STFT grid of the first model (the paper configs share one).
    first_audio = methods[0].config.audio if methods else None
    if "mixture" in baselines:
        methods.append(mixture_method())
    if "irm" in baselines:
        methods.append(irm_method(first_audio))
    if not methods:
        raise EvaluationError("nothing to evaluate: give --model, --dedicated or --baselines")

    jobs = args.jobs or default_jobs(tracks, methods, targets)
    result = run_evaluation(tracks, methods, targets, out, args.subset, progress=not args.no_progress, jobs=jobs)
    paths = write_reports(result, out)
    print(
        f"{len(result.tracks)} track(s), {len(methods)} method(s): "
        f"{result.scored} scored now, {result.reused} read back from {out}"
    )
    print(sdr_table(result))
    print(f"median SDR (dB) over frames, then tracks; full tables: {paths['summary_md']}")
    return 0
