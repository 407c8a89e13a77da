"""`cunet synth`: render multitrack songs (procedural or from MIDI files) in the MUSDB18-HQ layout."""

HELP = "render synthetic multitrack songs (MUSDB18-HQ layout: stems sum to the mixture) for training"


def add_arguments(parser) -> None:
    from cunet.cli import options

    parser.add_argument("out", metavar="OUT", help="root folder to write (train/ and test/ inside); re-running resumes")
    count = parser.add_mutually_exclusive_group()
    count.add_argument("--tracks", type=options.positive_int, metavar="N", help="number of songs (default 10)")
    count.add_argument("--hours", type=float, metavar="H", help="render enough songs for H hours of audio")
    parser.add_argument(
        "--seconds",
        type=float,
        default=180.0,
        metavar="S",
        help="length of each song in seconds (default 180; with --midi, at most S of each file)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="random seed: the same seed and options give the same audio, bit for bit (default 0)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.0,
        metavar="F",
        help="share of the songs written to test/ (other seeds, every SoundFont; default 0)",
    )
    parser.add_argument(
        "--soundfont",
        action="append",
        metavar="PATH",
        help="a General MIDI SoundFont (.sf2/.sf3); repeatable (default: the Debian ones installed)",
    )
    parser.add_argument(
        "--exclude-soundfont-from-train",
        action="append",
        metavar="PATH",
        help="a SoundFont used only for test/ songs, never for train/; repeatable",
    )
    parser.add_argument(
        "--midi",
        metavar="DIR",
        help="render the MIDI files (.mid, .midi) under DIR instead of procedural songs; unreadable files are skipped",
    )
    parser.add_argument(
        "--sung-share",
        type=float,
        default=0.85,
        metavar="F",
        help="share of vocal parts sung by the voice; the rest use GM choir/voice programs (default 0.85)",
    )
    parser.add_argument(
        "--from-json",
        metavar="TRACK_JSON",
        help="render one track again from its track.json into OUT (other song options are ignored)",
    )
    options.add_jobs(parser, "tracks", auto_help="the number of cores, one worker process each")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def needs_tensorflow(args) -> bool:
    return False


def run(args) -> int:
    from pathlib import Path

    from cunet.synth.runner import from_json, render_dataset

    out = Path(args.out)
    if args.from_json:
        path, status = from_json(Path(args.from_json), out)
        print(f"{path}: " + (f"rendered from {args.from_json}" if status == "written" else "already there"))
        return 0
    summary = render_dataset(
        out,
        tracks=args.tracks,
        hours=args.hours,
        seconds=args.seconds,
        seed=args.seed,
        test_fraction=args.test_fraction,
        soundfonts=args.soundfont,
        exclude=args.exclude_soundfont_from_train,
        midi=args.midi,
        sung_share=args.sung_share,
        jobs=args.jobs,
        progress=not args.quiet,
    )
    print(summary)
    return 0
