"""`cunet demo`: what `make demo` runs: separate the bundled example clip with the embedded model."""

HELP = "separate the bundled example song into vocals and the rest (residual) (writes audio and a spectrogram PNG)"

EXAMPLE = "bloom-lights-12s.ogg"
MAX_FRAMES_DRAWN = 1500  # the bundled 12 s example at 44.1 kHz has 1030 STFT frames


def add_arguments(parser) -> None:
    from cunet.cli import options

    parser.add_argument(
        "--out-dir", default="demo-output", help="where the demo writes its files (default demo-output/)"
    )
    options.add_model(parser)
    parser.add_argument("--input", help="another song to use instead of the bundled example")


def needs_tensorflow(args) -> bool:
    """TensorFlow only when the model runs on it (LiteRT when the model has its .tflite)."""
    from cunet.errors import CunetError
    from cunet.separation.runtimes import resolve_runtime

    try:
        return resolve_runtime(args.model, "auto") != "litert"
    except CunetError:  # no model: the fallback builds one with TensorFlow
        return True


def example_path():
    """The bundled example clip (12 s cut from a musdb-mini test track's mixture)."""
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "examples" / EXAMPLE


def _fallback(reason: str) -> int:
    from cunet.cli.info import format_info
    from cunet.config import DEFAULT_CONFIG, load_config
    from cunet.model.info import model_info
    from cunet.model.unet import build_model

    print(f"cunet demo: {reason}")
    print("cunet demo: showing the default (untrained) model instead:\n")
    config = load_config(DEFAULT_CONFIG)
    print(format_info(model_info(build_model(config, compile=False)), config))
    return 0


def spectrogram_figure(mixture, estimate, rate: int, title: str):
    """A matplotlib figure of the first channel: mixture and estimate (dB), and the effective
    mask |estimate| / |mixture|, frequency in Hz over time in seconds (`librosa.display.specshow`).

    mixture, estimate: (samples, channels) float32 at `rate`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import librosa.display
    import matplotlib.pyplot as plt
    import numpy as np

    from cunet.audio.stft import stft_numpy

    n_fft = 2048 if rate > 16000 else 1024
    hop = n_fft // 4
    mix = np.abs(stft_numpy(mixture[:, 0], n_fft, hop)).T  # (bins, frames)
    est = np.abs(stft_numpy(estimate[:, 0], n_fft, hop)).T
    times = (np.arange(mix.shape[1]) * hop + n_fft / 2) / rate  # frame centres (frames are not centred)
    # A long song is drawn with groups of frames averaged, so drawing time stays bounded.
    group = -(-mix.shape[1] // MAX_FRAMES_DRAWN)
    if group > 1:
        mix, est, times = (_mean_over_groups(a, group) for a in (mix, est, times[None]))
        times = times[0]
    audible = mix > mix.max() * 1e-4  # the ratio means nothing where the mixture is silent
    mask = np.where(audible, np.clip(est / np.maximum(mix, 1e-8), 0, 1), np.nan)
    freqs = np.fft.rfftfreq(n_fft, 1 / rate)
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    panels = [
        (20 * np.log10(mix + 1e-6), "mixture (dB)", "magma"),
        (20 * np.log10(est + 1e-6), f"{title} estimate (dB)", "magma"),
        (mask, "mask |estimate| / |mixture|", "viridis"),
    ]
    for ax, (image, label, cmap) in zip(axes, panels):
        vmin, vmax = (0, 1) if cmap == "viridis" else (image.max() - 80, image.max())
        mesh = librosa.display.specshow(
            image,
            x_coords=times,
            y_coords=freqs,
            x_axis="s",
            y_axis="hz",
            sr=rate,
            hop_length=hop,
            n_fft=n_fft,
            ax=ax,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
        )
        ax.set(title=label, ylabel="frequency (Hz)", xlabel="")
        fig.colorbar(mesh, ax=ax)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def _mean_over_groups(a, group: int):
    """(rows, frames) -> (rows, frames // group): means of consecutive groups of frames."""
    n = a.shape[1] // group * group
    return a[:, :n].reshape(a.shape[0], -1, group).mean(axis=-1)


def plot_spectrograms(path, mixture, estimate, rate: int, title: str) -> None:
    """Write `spectrogram_figure` as a PNG at `path`, atomically."""
    import matplotlib.pyplot as plt

    from cunet.fileio import atomic_path

    fig = spectrogram_figure(mixture, estimate, rate, title)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def run(args) -> int:
    from pathlib import Path

    from cunet.audio.formats import input_name
    from cunet.audio.reading import read_audio
    from cunet.audio.writing import write_audio
    from cunet.errors import CunetError
    from cunet.separation.runtimes import EMBEDDED_MODEL_NOTE
    from cunet.separation.separator import RESIDUAL, Separator

    try:
        separator = Separator.load(args.model)
    except CunetError as exc:
        return _fallback(f"no trained model to run: {exc}")
    source = Path(args.input) if args.input else example_path()
    audio, rate = read_audio(source)
    instrument = "vocals" if "vocals" in separator.instruments else separator.instruments[0]
    out = separator.separate(audio, rate, [instrument], residual=True)
    folder = Path(args.out_dir) / input_name(source)
    written = [
        write_audio(folder / "mixture.wav", audio, rate),
        write_audio(folder / f"{instrument}.wav", out[instrument], rate),
        write_audio(folder / f"{RESIDUAL}.wav", out[RESIDUAL], rate),  # the rest of the mix, as `cunet separate`
    ]
    png = folder / "spectrogram.png"
    plot_spectrograms(png, audio, out[instrument], rate, instrument)
    written.append(png)
    print(
        f"cunet demo: separated {source.name} ({len(audio) / rate:.1f} s, {rate} Hz, {audio.shape[1]} ch) "
        f"with {args.model or 'the embedded model'} ({separator.config.name}, runtime {separator.runtime})"
    )
    if args.model is None:
        print(f"cunet demo: note: {EMBEDDED_MODEL_NOTE}")
    for path in written:
        print(f"  {path}")
    return 0
