"""`cunet.musdb`: one reader of MUSDB18 roots for `cunet prepare` and `cunet evaluate`."""

import numpy as np
import pytest
import soundfile as sf

from cunet import musdb
from cunet.musdb import MusdbError, discover_tracks, read_stems, read_track
from musdb_fixtures import MUSDB_ORDER, make_musdb_root, synth_stems


def test_one_stem_order_and_the_stem_mp4_streams():
    assert musdb.STEMS == ("vocals", "drums", "bass", "other")
    # a .stem.mp4 holds the mixture, then drums, bass, other, vocals (as the fixtures write it)
    assert sorted(musdb.STEMS, key=musdb.STEM_STREAMS.get) == list(MUSDB_ORDER)
    assert sorted(musdb.STEM_STREAMS.values()) == [1, 2, 3, 4]


def test_the_official_validation_split():
    names = musdb.validation_tracks()
    assert len(names) == 14 and "Actions - One Minute Smile" in names


@pytest.mark.parametrize("layout", ["wav", "stems"])
def test_discovery_sorted_limited_and_decoded_in_stem_order(tmp_path, layout):
    root = make_musdb_root(tmp_path / "root", layout, {"train": 3}, seconds=1.0)
    is_wav = layout == "wav"
    tracks = discover_tracks(root, "train", is_wav)
    assert [t.name for t in tracks] == [f"Fixture Train {i:02d} - Tone Song" for i in range(3)]
    assert discover_tracks(root, "train", is_wav, limit=2) == tracks[:2]
    stems, rate = read_stems(tracks[0])
    audio = read_track(tracks[0])
    assert rate == audio.rate == 44100 and list(stems) == list(audio.sources) == list(musdb.STEMS)
    truth = synth_stems(1.0, 44100, seed=1)
    for name in musdb.STEMS:
        assert stems[name].dtype == audio.sources[name].dtype == np.float32
        assert audio.sources[name].shape == stems[name].shape
        # 16-bit PCM (evaluation, as musdb decodes) and float (cache) differ by quantization only
        np.testing.assert_allclose(audio.sources[name], stems[name], atol=2e-4)
        if is_wav:
            np.testing.assert_allclose(stems[name], truth[name], atol=1e-6)
        else:  # AAC: each decoded stream is the stem of its name (delay and codec noise aside)
            best = {other: _best_correlation(stems[name][:, 0], truth[other][:, 0]) for other in musdb.STEMS}
            assert max(best, key=best.get) == name and best[name] > 0.95, (name, best)
    assert audio.mixture.shape == audio.sources["vocals"].shape


def _best_correlation(decoded, truth, segment=8192, start=8192):
    """Largest normalized correlation of a segment of `truth` with `decoded` over delays 0..4096."""
    b = truth[start : start + segment]
    values = []
    for delay in range(0, 4096, 2):
        a = decoded[start + delay : start + delay + segment]
        values.append(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
    return max(values)


def test_mono_wav_tracks_are_two_dimensional(tmp_path):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 1}, seconds=0.5, rate=8000)
    for path in root.rglob("*.wav"):
        audio, rate = sf.read(path, always_2d=True)
        sf.write(path, audio[:, :1], rate, subtype="PCM_16")
    audio = read_track(discover_tracks(root, "test", is_wav=True)[0])
    assert audio.mixture.shape == (4000, 1) and audio.sources["bass"].shape == (4000, 1)
    reference, _ = sf.read(next((root / "test").iterdir()) / "bass.wav", dtype="float32", always_2d=True)
    np.testing.assert_array_equal(audio.sources["bass"], reference)  # 16-bit PCM: exact


def test_bad_roots_and_tracks_are_one_clear_error(tmp_path):
    with pytest.raises(MusdbError, match="MUSDB18 root not found"):
        discover_tracks(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MusdbError, match="no 'test' folder"):
        discover_tracks(tmp_path / "empty", "test")
    with pytest.raises(MusdbError, match="subset must be train or test"):
        discover_tracks(tmp_path / "empty", "valid")
    wav = make_musdb_root(tmp_path / "wav", "wav", {"train": 1}, seconds=0.5)
    with pytest.raises(MusdbError, match=r"\.stem\.mp4 files .*add --is-wav"):
        discover_tracks(wav, "train")
    with pytest.raises(MusdbError, match="at least 1"):
        discover_tracks(wav, "train", is_wav=True, limit=0)
    track = discover_tracks(wav, "train", is_wav=True)[0]
    (track.path / "mixture.wav").unlink()
    with pytest.raises(MusdbError, match=f"cannot read track '{track.name}'"):
        read_track(track)
    (track.path / "drums.wav").unlink()
    with pytest.raises(MusdbError, match="has no drums.wav"):
        discover_tracks(wav, "train", is_wav=True)


def test_a_stem_file_with_other_than_five_streams_is_refused(tmp_path):
    import stempeg

    (tmp_path / "root" / "train").mkdir(parents=True)
    stems = synth_stems(0.5, 44100, seed=3)
    data = np.stack([stems["drums"], stems["bass"], stems["vocals"]])  # three streams, no mixture
    stempeg.write_stems(
        str(tmp_path / "root" / "train" / "Short - Song.stem.mp4"),
        data,
        sample_rate=44100,
        writer=stempeg.StreamsWriter(codec="aac", bitrate=128000),
    )
    track = discover_tracks(tmp_path / "root", "train")[0]
    with pytest.raises(MusdbError, match=r"3 audio streams, a MUSDB18 \.stem\.mp4 has 5 \(mixture, drums"):
        read_stems(track)
