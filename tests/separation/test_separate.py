"""cunet.Separator: exact overlap-add and full-band path, shapes, blocks, conditions, Wiener."""

import numpy as np
import pytest

from cunet.errors import CunetError
from cunet.model.unet import build_model
from cunet.separation.masks import TensorFlowMasks
from cunet.separation.separator import Separator
from cunet.separation.wiener import expectation_maximization, wiener_filter, wiener_gains
from model_fixtures import sharpened_model

RATES = [8000, 22050, 44100, 48000, 96000]


def _separator(model, config, **kwargs):
    return Separator(TensorFlowMasks(model, config), config, **kwargs)


def _constant_mask_model(config, value):
    """A model whose sigmoid mask is `value` (1 or 0) everywhere: last BatchNorm gamma 0, beta +-50."""
    model = build_model(config, compile=False)
    bn = model.get_layer(f"decoder_{config.model.n_layers - 1}_bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma * 0, beta * 0 + (50.0 if value else -50.0), mean, var])
    return model


@pytest.fixture(scope="module")
def ones(tiny):
    return _separator(_constant_mask_model(tiny, 1), tiny)


@pytest.fixture(scope="module")
def zeros(tiny):
    return _separator(_constant_mask_model(tiny, 0), tiny)


@pytest.fixture(scope="module")
def random_model(tiny):
    return sharpened_model(tiny)


def _error_db(estimate, reference):
    return 10 * np.log10(np.sum((estimate - reference) ** 2) / np.sum(reference**2))


def _noise(seconds, rate, channels, seed=0):
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal((int(seconds * rate), channels))).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("rate", RATES)
def test_mask_one_returns_the_input_full_band_and_mask_zero_silence(ones, zeros, rate, channels):
    x = _noise(1.3, rate, channels, seed=rate + channels)  # white noise: energy up to Nyquist
    out = ones.separate(x, rate, ["vocals"], residual=True)
    assert out["vocals"].shape == x.shape and out["vocals"].dtype == np.float32
    assert _error_db(out["vocals"], x) < -60
    assert out["residual"].shape == x.shape
    silent = zeros.separate(x, rate, ["vocals"])["vocals"]
    assert silent.shape == x.shape
    assert np.max(np.abs(silent)) < 1e-6 * np.max(np.abs(x))


def test_six_channels_are_separated_channel_by_channel(ones, zeros):
    x = _noise(0.5, 48000, 6)
    x[:, 3] = 0  # a silent channel stays silent: channels are not mixed
    y = ones.separate(x, 48000, ["drums"])["drums"]
    assert y.shape == x.shape and _error_db(y, x) < -60
    assert np.max(np.abs(y[:, 3])) < 1e-7


def test_mono_vector_in_vector_out(ones):
    x = _noise(0.7, 22050, 1)[:, 0]
    y = ones.separate(x, 22050, ["bass"])["bass"]
    assert y.shape == x.shape and _error_db(y, x) < -60


@pytest.mark.parametrize("samples", [1, 37, 300])
def test_shorter_than_one_stft_frame_keeps_its_length(ones, samples):
    x = _noise(1.0, 44100, 2)[:samples]
    y = ones.separate(x, 44100, ["vocals"])["vocals"]
    assert y.shape == x.shape
    assert _error_db(y, x) < -60


def test_all_zero_input_gives_finite_silence(tiny, random_model):
    sep = _separator(random_model, tiny)
    x = np.zeros((20000, 2), np.float32)
    for wiener in (False, True):
        out = sep.separate(x, 44100, ["vocals", "drums+bass"], residual=True, wiener=wiener)
        for y in out.values():
            assert np.all(np.isfinite(y)) and not np.any(y)


def test_bad_arrays_and_specs_raise_clear_errors(ones):
    with pytest.raises(CunetError, match="NaN or Inf"):
        ones.separate(np.array([[0.0], [np.nan], [0.0]]), 44100)
    with pytest.raises(CunetError, match="0 samples"):
        ones.separate(np.zeros((0, 2)), 44100)
    with pytest.raises(CunetError, match="valid instruments: bass, drums, other, vocals"):
        ones.separate(np.zeros((100, 2)), 44100, ["guitar"])


def test_long_input_runs_in_blocks_equal_to_one_shot(tiny, random_model):
    # 10 minutes, mono, at the model rate: with 60 s blocks the block path is taken
    x = _noise(600, 8000, 1, seed=3)
    x *= np.sin(np.linspace(0, 40 * np.pi, len(x)))[:, None].astype(np.float32)  # vary the level
    blocked = _separator(random_model, tiny, block_seconds=60.0)
    blocks = blocked.block_count(len(x), 8000)
    assert blocks >= 10
    y_blocks = blocked.separate(x, 8000, ["vocals"], residual=True)
    assert blocked.last_block_count == blocks
    one_shot = _separator(random_model, tiny, block_seconds=1e6)
    y_once = one_shot.separate(x, 8000, ["vocals"], residual=True)
    assert one_shot.last_block_count == 1
    assert np.std(y_once["vocals"] / (x + 1e-3 * np.sign(x) + 1e-9)) > 0.01  # a non-trivial mask
    for name in ("vocals", "residual"):
        scale = np.max(np.abs(y_once[name]))
        assert scale > 1e-3
        np.testing.assert_allclose(y_blocks[name], y_once[name], atol=1e-5 * scale)


def test_small_blocks_with_resampling_equal_one_shot(tiny, random_model):
    x = _noise(8.0, 44100, 2, seed=5)
    y_blocks = _separator(random_model, tiny, block_seconds=0.7).separate(x, 44100, ["other"])
    y_once = _separator(random_model, tiny, block_seconds=1e6).separate(x, 44100, ["other"])
    scale = np.max(np.abs(y_once["other"]))
    np.testing.assert_allclose(y_blocks["other"], y_once["other"], atol=1e-5 * scale)


class _ConditionProbe:
    """A `MaskEstimator` that records the condition vectors it receives; masks 0.5."""

    def __init__(self):
        self.conditions = []

    def __call__(self, patches, condition):
        assert patches.ndim == 4 and patches.shape[-1] == 1
        self.conditions.append(np.array(condition))
        return np.full(patches.shape[:3], 0.5, np.float32)


def test_specs_reach_the_model_as_condition_vectors(tiny):
    expected = {
        "vocals+drums": [0, 1, 0, 1],  # order: bass, drums, other, vocals
        "vocals=0.5": [0, 0, 0, 0.5],
        "bass=0.25+other": [0.25, 0, 1, 0],
    }
    for spec, vector in expected.items():
        probe = _ConditionProbe()
        out = Separator(probe, tiny).separate(_noise(0.5, 44100, 2), 44100, [spec])
        assert list(out) == [spec]
        assert probe.conditions, "the model was not called"
        for condition in probe.conditions:
            np.testing.assert_array_equal(condition, np.array(vector, np.float32))


def test_dedicated_unet_separates_only_its_target(tiny):
    config = tiny.replace(model={"type": "unet", "target": "drums"})
    sep = _separator(build_model(config, compile=False), config)
    x = _noise(0.5, 44100, 2)
    assert sep.separate(x, 44100, ["drums"])["drums"].shape == x.shape
    for other in ("vocals", "drums+bass", "drums=0.5"):
        with pytest.raises(CunetError, match="dedicated U-Net for 'drums'"):
            sep.separate(x, 44100, [other])


def test_default_model_missing_is_a_clear_error(monkeypatch, tmp_path):
    import cunet.separation.runtimes as runtimes

    monkeypatch.setattr(runtimes, "default_model_path", lambda: tmp_path / "cunet-default.keras")
    with pytest.raises(CunetError, match="embedded default model"):
        Separator.load(None)


def test_separator_is_exported_lazily():
    import cunet

    assert cunet.Separator is Separator


# ----------------------------------------------------------------- Wiener post-filter
def _stft(x):
    import cunet.audio.spectral as spectral

    return np.asarray(spectral.stft(x, 1024, 256))


def test_wiener_with_oracle_magnitudes_recovers_the_sources():
    import cunet.audio.spectral as spectral

    rate = 16000
    t = np.arange(rate * 2) / rate
    rng = np.random.default_rng(1)
    low = (0.5 * np.sin(2 * np.pi * 220 * t) * (t < 1.2)).astype(np.float32)
    high = np.convolve(rng.standard_normal(len(t)), [1, -1], "same").astype(np.float32) * 0.05 * (t > 0.7)
    high = high.astype(np.float32)
    mixture = low + high
    sources = wiener_filter(_stft(mixture), np.abs(np.stack([_stft(low), _stft(high)])))
    np.testing.assert_allclose(sources.sum(axis=0), _stft(mixture), atol=1e-5)  # sums to the mixture
    for spectrum, reference in zip(sources, (low, high)):
        estimate = np.asarray(spectral.istft(spectrum, 1024, 256))[: len(reference)]
        inner = slice(1024, len(reference) - 1024)
        sdr = -_error_db(estimate[inner], reference[inner])
        assert sdr > 15, sdr


def test_wiener_gains_allocate_power_and_never_nan():
    v = np.array([[[3.0, 0.0, 1.0]], [[4.0, 0.0, 1.0]]])
    gains = wiener_gains(v)
    np.testing.assert_allclose(gains[:, 0, 0], [9 / 25, 16 / 25], rtol=1e-6)
    np.testing.assert_array_equal(gains[:, 0, 1], [0, 0])
    np.testing.assert_allclose(gains[:, 0, 2], [0.5, 0.5])
    assert np.all(np.isfinite(gains))


def test_separator_wiener_estimates_plus_residual_sum_to_the_mixture(tiny, random_model):
    sep = _separator(random_model, tiny)
    x = _noise(2.0, 44100, 2, seed=9)
    out = sep.separate(x, 44100, ["vocals", "drums"], residual=True, wiener=True)
    total = out["vocals"] + out["drums"] + out["residual"]
    assert _error_db(total, x) < -100
    soft = _separator(random_model, tiny, wiener_iterations=0).separate(x, 44100, ["vocals", "drums"], wiener=True)
    assert np.max(np.abs(soft["vocals"] - out["vocals"])) > 1e-4  # the EM step changed something
    plain = sep.separate(x, 44100, ["vocals", "drums"])
    assert np.max(np.abs(plain["vocals"] - out["vocals"])) > 1e-4  # the filter changed something


def _band_probe(patches, condition):
    """A `MaskEstimator`: 1 on the model's top octave of bins ((bins - 1) // 2 and up), 0 below."""
    mask = np.zeros(patches.shape[:3], np.float32)
    mask[:, (mask.shape[1] - 1) // 2 :] = 1.0
    return mask


def test_mask_extension_above_the_model_band(tiny):
    sep = Separator(_band_probe, tiny)
    rate = 44100
    x = _noise(2.0, rate, 1, seed=11)[:, 0]
    y = sep.separate(x, rate, ["vocals"])["vocals"]
    spectrum_x = np.abs(np.fft.rfft(x))
    spectrum_y = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    top = tiny.patch.freq_bins * tiny.audio.sample_rate / tiny.audio.n_fft  # 2048 Hz for tiny
    below = freqs < top / 2 * 0.7
    above = freqs > top * 1.2  # beyond the model's band: the top-octave mask (1) is extended
    assert np.sum(spectrum_y[below] ** 2) < 1e-4 * np.sum(spectrum_x[below] ** 2)
    ratio = np.sum(spectrum_y[above] ** 2) / np.sum(spectrum_x[above] ** 2)
    assert abs(ratio - 1) < 1e-3, ratio


def test_wiener_em_uses_the_stereo_image():
    """Two noises with the same spectrum, panned apart: power ratios cannot split them, EM can."""
    import cunet.audio.spectral as spectral

    rng = np.random.default_rng(2)
    a, b = (0.1 * rng.standard_normal((2, 16000 * 3))).astype(np.float32)
    sources = [np.stack([a * 0.9, a * 0.1]), np.stack([b * 0.2, b * 0.8])]
    mixture = _stft(sources[0] + sources[1])
    # magnitudes without any stereo information: each source's mean over channels
    mono = np.stack([np.repeat(np.abs(_stft(s)).mean(0, keepdims=True), 2, 0) for s in sources])
    soft = wiener_filter(mixture, mono)
    refined = expectation_maximization(mixture, soft, iterations=2)
    np.testing.assert_allclose(refined.sum(axis=0), mixture, atol=1e-4)

    def sdr(spectrum, reference):
        estimate = np.asarray(spectral.istft(spectrum, 1024, 256))[:, 1024 : reference.shape[1] - 1024]
        return -_error_db(estimate, reference[:, 1024:-1024])

    for j, reference in enumerate(sources):
        assert sdr(refined[j], reference) > sdr(soft[j], reference) + 2
    silent = expectation_maximization(np.zeros((2, 4, 5), np.complex64), np.zeros((2, 2, 4, 5), np.complex64), 2)
    assert np.all(np.isfinite(silent)) and not np.any(silent)


def test_many_separators_run_without_retracing_warnings(tiny, random_model, caplog):
    x = np.random.default_rng(3).standard_normal((8192, 2)).astype(np.float32) * 0.1
    outputs = []
    with caplog.at_level("WARNING", logger="tensorflow"):
        for _ in range(7):  # e.g. four dedicated U-Nets and more in one `cunet evaluate`
            separator = _separator(random_model, tiny)
            outputs.append(separator.separate(x, 8192, ["vocals"])["vocals"])
            outputs.append(separator.separate(x[:5000], 8192, ["vocals"])["vocals"])  # another batch size
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    np.testing.assert_array_equal(outputs[0], outputs[-2])
