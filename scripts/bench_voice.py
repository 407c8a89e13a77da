"""Benchmark the sung voice of `cunet synth` (`cunet.synth.voice.sing`): speed and pitch tracking.

For each of `--voices` random singers (`random_voice`, seeds 0, 1, ...), sings a procedural
melody of `--minutes` (phrases of 4 bars at 80-140 BPM, eighths to half notes on a major scale,
a rest of 1-2 beats between phrases, moved into the singer's range by `in_range`) at 44.1 kHz
and reports the CPU time of `sing` (one core: the process time), the real-time factor (seconds
of sung audio per CPU second), and how well the output follows the notes: the f0 of
the result (WORLD DIO + StoneMask at 16 kHz; Harvest is not used: it calls perfectly clean
periodic sound unvoiced) against the written pitch in the middle of each note (median and 90th
percentile of the error in cents, voiced fraction of those frames). Prints one table, then one line of
key=value: `realtime_factor` (median over singers) `cpu_seconds_per_minute` `median_cents`
`voiced_fraction`. `--demo PATH` also writes the first singer's song as a wav.

    nice -n 10 .venv/bin/python scripts/bench_voice.py                # about half a minute
    .venv/bin/python scripts/bench_voice.py --voices 3 --minutes 3 --demo /tmp/voice-demo.wav
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

RATE = 44100
MAJOR = (0, 2, 4, 5, 7, 9, 11)


def procedural_melody(seconds: float, rng: np.random.Generator):
    """A singable melody of about `seconds`: (notes) as `cunet.synth.notes.Note`."""
    from cunet.synth.notes import Note

    beat = 60.0 / rng.uniform(80, 140)
    tonic = 55 + int(rng.integers(0, 12))
    notes, time_, degree = [], 0.5, 0
    while time_ < seconds:
        phrase_end = time_ + 16 * beat
        while time_ < phrase_end - beat / 2:
            length = beat * float(rng.choice([0.5, 0.5, 1, 1, 1, 1.5, 2]))
            degree = int(np.clip(degree + rng.integers(-2, 3), -3, 9))
            pitch = tonic + 12 * (degree // 7) + MAJOR[degree % 7]
            notes.append(Note(time_, length * 0.92, pitch, int(rng.integers(70, 120))))
            time_ += length
        time_ += beat * float(rng.choice([1, 1.5, 2]))
    return notes


def pitch_tracking(audio: np.ndarray, notes) -> tuple[float, float, float]:
    """(median cents, 90th percentile cents, voiced fraction) of DIO's f0 in note middles."""
    import pyworld
    import soxr

    audio = soxr.resample(audio.astype(np.float64), RATE, 16000)
    f0, times = pyworld.dio(audio, 16000, f0_floor=70.0, f0_ceil=1100.0)
    f0 = pyworld.stonemask(audio, f0, times, 16000)
    target = np.zeros_like(f0)
    for note in notes:
        target[(times >= note.start + 0.05) & (times < note.end - 0.05)] = 440.0 * 2 ** ((note.pitch - 69) / 12)
    voiced = (f0 > 0) & (target > 0)
    cents = np.abs(1200 * np.log2(f0[voiced] / target[voiced]))
    return (
        float(np.median(cents)),
        float(np.percentile(cents, 90)),
        voiced.sum() / (target > 0).sum(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, default=6, help="random singers (default 6)")
    parser.add_argument("--minutes", type=float, default=1.0, help="song length (default 1)")
    parser.add_argument("--demo", help="write the first singer's song to this wav")
    args = parser.parse_args()

    import soundfile as sf

    from cunet.synth.voice import in_range, random_voice, sing

    sing(
        procedural_melody(2.0, np.random.default_rng(0)),
        RATE,
        random_voice(np.random.default_rng(0)),
        0,
    )
    rows = []
    print(f"{'singer':14} {'range':7} {'sung s':>7} {'cpu s':>6} {'x real':>7} {'cents':>6} {'p90':>5} {'voiced':>6}")
    for seed in range(args.voices):
        voice = random_voice(np.random.default_rng(seed))
        notes = in_range(
            procedural_melody(60 * args.minutes, np.random.default_rng(100 + seed)),
            voice,
        )
        start = time.process_time()
        audio = sing(notes, RATE, voice, seed)
        cpu = time.process_time() - start
        sung = len(audio) / RATE
        cents, p90, voiced = pitch_tracking(audio, notes)
        rows.append((sung / cpu, cpu / sung * 60, cents, voiced))
        print(
            f"{voice.espeak_voice:14} {voice.low}-{voice.high:<4} {sung:7.1f} {cpu:6.2f} "
            f"{sung / cpu:7.1f} {cents:6.1f} {p90:5.0f} {voiced:6.2f}"
        )
        if seed == 0 and args.demo:
            sf.write(args.demo, audio, RATE)
    medians = [statistics.median(column) for column in zip(*rows)]
    print(
        "realtime_factor={:.1f} cpu_seconds_per_minute={:.2f} median_cents={:.1f} voiced_fraction={:.2f}".format(
            *medians
        )
    )


if __name__ == "__main__":
    main()
