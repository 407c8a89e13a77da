"""Tiny MUSDB18-layout roots for tests, in both releases' layouts.

`make_musdb_root(root, layout)` writes `root/{train,test}/...` with short tracks whose
stems are distinct tones and noise bursts (bass low, vocals high, drums clicks, other a
chord), so every instrument is separable and has energy in every second:

- layout "wav" (MUSDB18-HQ): `<subset>/<track>/{mixture,drums,bass,other,vocals}.wav`
- layout "stems" (MUSDB18): `<subset>/<track>.stem.mp4`, AAC streams in MUSDB order
  mixture, drums, bass, other, vocals (needs ffmpeg).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MUSDB_ORDER = ("drums", "bass", "other", "vocals")


def synth_stems(seconds: float, rate: int, seed: int, channels: int = 2) -> dict:
    """Return name -> (samples, channels) float32 stems, deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = 55.0 * 2 ** (rng.integers(0, 12) / 12)
    bass = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    vocal_f = 440.0 * 2 ** (rng.integers(0, 12) / 12)
    vibrato = 5.0 * np.sin(2 * np.pi * 5.0 * t)
    vocals = 0.2 * np.sin(2 * np.pi * np.cumsum(vocal_f + vibrato) / rate)
    vocals *= (np.sin(2 * np.pi * 0.7 * t) > -0.5).astype(float)
    drums = np.zeros(n)
    beat = int(rate * 0.25)
    burst = min(int(rate * 0.03), n)
    for start in range(0, n, beat):
        length = min(burst, n - start)
        drums[start : start + length] += rng.standard_normal(length) * np.exp(-np.arange(length) / (0.005 * rate))
    drums *= 0.3
    chord = sum(np.sin(2 * np.pi * 220.0 * r * t) for r in (1.0, 1.26, 1.5))
    other = 0.08 * chord * (0.5 + 0.5 * np.sin(2 * np.pi * 0.25 * t + rng.uniform(0, 6)))
    stems = {"drums": drums, "bass": bass, "other": other, "vocals": vocals}
    pans = {name: rng.uniform(0.3, 1.0, size=channels) for name in stems}
    return {name: (signal[:, None] * pans[name][None, :]).astype(np.float32) for name, signal in stems.items()}


def make_musdb_root(
    root,
    layout: str = "wav",
    tracks: dict | None = None,
    seconds: float = 3.0,
    rate: int = 44100,
) -> Path:
    """Write a tiny MUSDB18 root. `tracks` maps subset -> number of tracks (default 2 / 1)."""
    import soundfile as sf

    root = Path(root)
    tracks = tracks or {"train": 2, "test": 1}
    seed = 0
    for subset, count in tracks.items():
        for i in range(count):
            seed += 1
            name = f"Fixture {subset.title()} {i:02d} - Tone Song"
            stems = synth_stems(seconds, rate, seed)
            mixture = sum(stems.values())
            if layout == "wav":
                folder = root / subset / name
                folder.mkdir(parents=True, exist_ok=True)
                sf.write(folder / "mixture.wav", mixture, rate, subtype="FLOAT")
                for stem in MUSDB_ORDER:
                    sf.write(folder / f"{stem}.wav", stems[stem], rate, subtype="FLOAT")
            elif layout == "stems":
                import stempeg

                (root / subset).mkdir(parents=True, exist_ok=True)
                data = np.stack([mixture] + [stems[s] for s in MUSDB_ORDER])
                stempeg.write_stems(
                    str(root / subset / f"{name}.stem.mp4"),
                    data,
                    sample_rate=rate,
                    writer=stempeg.StreamsWriter(codec="aac", bitrate=256000),
                )
            else:
                raise ValueError(f"layout must be 'wav' or 'stems', got {layout!r}")
    return root
