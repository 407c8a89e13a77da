"""The General MIDI SoundFonts that `cunet synth` renders with: Debian's, or the user's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from cunet.synth.render import DEBIAN_PACKAGES, FluidSynthError

DEFAULT_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",  # fluid-soundfont-gm (MIT)
    "/usr/share/sounds/sf3/MuseScore_General.sf3",  # musescore-general-soundfont (MIT)
    "/usr/share/sounds/sf2/TimGM6mb.sf2",  # timgm6mb-soundfont (GPL-2)
)


def check_soundfont(path: Path) -> Path:
    """`path` resolved, if it is a readable SoundFont (a RIFF sfbk file), else a FluidSynthError."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as error:
        raise FluidSynthError(f"SoundFont {path} cannot be read ({error.strerror}): {DEBIAN_PACKAGES}") from None
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise FluidSynthError(f"{path} is not a SoundFont (.sf2/.sf3)")
    return Path(path).absolute()


def resolve_soundfonts(given: Sequence[str] | None) -> list[Path]:
    """The SoundFonts to use: those given (each must exist), else the Debian defaults present."""
    if given:
        return _unique(check_soundfont(Path(p).expanduser()) for p in given)
    present = [Path(p) for p in DEFAULT_SOUNDFONTS if Path(p).exists()]
    if not present:
        raise FluidSynthError(
            f"no General MIDI SoundFont found (looked for {DEFAULT_SOUNDFONTS[0]}): {DEBIAN_PACKAGES}"
        )
    return _unique(check_soundfont(p) for p in present)


def held_out(soundfonts: Sequence[Path], excluded: Sequence[str] | None) -> list[Path]:
    """The SoundFonts for the training split: `soundfonts` less the `excluded` ones (test only)."""
    if not excluded:
        return list(soundfonts)
    removed = {check_soundfont(Path(p).expanduser()) for p in excluded}
    missing = removed - set(soundfonts)
    if missing:
        raise FluidSynthError(f"--exclude-soundfont-from-train {sorted(missing)[0]} is not among the SoundFonts used")
    kept = [p for p in soundfonts if p not in removed]
    if not kept:
        raise FluidSynthError("every SoundFont is excluded from training: give at least one more --soundfont")
    return kept


def _unique(paths: Iterable[Path]) -> list[Path]:
    seen: list[Path] = []
    for path in paths:
        if path not in seen:
            seen.append(path)
    return seen
