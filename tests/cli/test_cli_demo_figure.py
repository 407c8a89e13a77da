"""`cunet demo`'s spectrogram figure: librosa's specshow with frequency in Hz and time in seconds."""

import numpy as np
import pytest

from cunet.cli.demo import MAX_FRAMES_DRAWN, plot_spectrograms, spectrogram_figure


def _tone(freq, rate, seconds, channels=2):
    t = np.arange(int(rate * seconds)) / rate
    return np.repeat((0.5 * np.sin(2 * np.pi * freq * t))[:, None], channels, 1).astype(np.float32)


def _panel(ax):
    """(freqs (bins,), times (frames,), image (bins, frames)) of a specshow panel."""
    mesh = ax.collections[0]
    corners = mesh.get_coordinates()  # (bins + 1, frames + 1, 2) cell corners
    image = np.ma.getdata(mesh.get_array()).reshape(corners.shape[0] - 1, corners.shape[1] - 1)
    freqs = (corners[1:, 0, 1] + corners[:-1, 0, 1]) / 2
    times = (corners[0, 1:, 0] + corners[0, :-1, 0]) / 2
    return freqs, times, image


@pytest.mark.parametrize("rate", [8000, 44100])
def test_axes_are_hz_and_seconds_and_a_tone_sits_at_its_frequency(rate):
    import matplotlib.pyplot as plt

    mixture = _tone(1000, rate, 3.0) + _tone(3000, rate, 3.0)
    estimate = _tone(1000, rate, 3.0)
    fig = spectrogram_figure(mixture, estimate, rate, "vocals")
    try:
        mix_ax, est_ax, mask_ax = fig.axes[:3]
        assert mix_ax.get_ylabel() == "frequency (Hz)" and mask_ax.get_xlabel() == "time (s)"
        low, high = mix_ax.get_ylim()
        assert abs(low) < rate / 500 and abs(high - rate / 2) < rate / 500  # 0 Hz to Nyquist, within a bin
        left, right = mix_ax.get_xlim()
        assert 0 <= left < 0.1 and 2.9 < right <= 3.0  # seconds, the first and last frames' edges

        freqs, times, image = _panel(mix_ax)
        loudest = freqs[np.argsort(image[:, image.shape[1] // 2])[-2:]]
        assert sorted(np.round(loudest, -2)) == [1000, 3000]
        freqs, _, estimate_image = _panel(est_ax)
        assert abs(freqs[np.argmax(estimate_image[:, 5])] - 1000) < rate / 1000
        _, _, mask = _panel(mask_ax)
        at = lambda f: np.argmin(np.abs(freqs - f))  # noqa: E731
        assert np.nanmean(mask[at(1000)]) > 0.95 and np.nanmean(mask[at(3000)]) < 0.05
    finally:
        plt.close(fig)


def test_a_long_song_is_drawn_with_bounded_frames_over_its_whole_length():
    import matplotlib.pyplot as plt

    rate, seconds = 8000, 160.0  # 4998 STFT frames of 1024 with hop 256
    fig = spectrogram_figure(_tone(440, rate, seconds, 1), _tone(440, rate, seconds, 1), rate, "vocals")
    try:
        _, times, image = _panel(fig.axes[0])
        assert MAX_FRAMES_DRAWN / 2 < image.shape[1] <= MAX_FRAMES_DRAWN
        assert times[0] < 1.0 and times[-1] > seconds - 1.0
    finally:
        plt.close(fig)


def test_plot_spectrograms_writes_a_png(tmp_path):
    path = tmp_path / "out" / "spectrogram.png"
    path.parent.mkdir()
    plot_spectrograms(path, _tone(440, 8000, 1.0), _tone(440, 8000, 1.0) * 0.5, 8000, "vocals")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in path.parent.iterdir()] == ["spectrogram.png"]
