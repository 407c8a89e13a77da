"""Lyric-like text for the sung voice: seeded lines of real words, one syllable per sung unit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Words as the syllables espeak-ng reads aloud: a polysyllable is spelled as pronounceable pieces
# (English "baby" as "bay bee") so that every piece can be synthesized and placed on its own note.
_ENGLISH = (
    "love night heart fire light time dream rain sky home run fall stay go know feel need "
    "hold burn shine cry fly slow road dance soul blue gold sea sun moon star wild free young "
    "true lost mine yours we you I me my our oh yeah hey down high near far one more "
    "through the dark sweet lie say way call true wait cold warm hand eyes line find "
    "to.night a.way may.be a.lone in.side sun.shine for.get be.leave bay.bee own.lee "
    "dance.sing ev.er for.ev.er sum.mer o.pen hap.pee some.one no.bo.dee"
)
_SPANISH = (
    "sol mar luz voz paz fin mil yo tu con sin mas dos ver dar ir fue son "
    "a.mor co.ra.zon no.che vi.da lu.na cie.lo so.lo bai.lar can.tar to.do "
    "tiem.po mun.do fue.go a.gua be.so sue.no al.ma ca.mi.no ma.na.na"
)
_ITALIAN = (
    "tu mai sei per con non blu noi voi sol mar tre va fa sta qui la "
    "a.mo.re cuo.re not.te vi.ta lu.na cie.lo so.le sem.pre can.ta.re "
    "mon.do fuo.co ba.cio so.gno a.ni.ma stel.la ma.re bel.la"
)
_GERMAN = (
    "ich du wir mein dein Nacht Licht Herz Zeit Welt nie nur schon weit Traum Hand "
    "Meer Wind Stern Mond Feuer ja so hier da fort komm geh bleib sing tanz Blut Glut"
)
_FRENCH = (
    "toi moi nuit coeur ciel mer jour vie temps rien loin doux feu ciel main reve "
    "tout encore oui non viens pars chante danse sang vent lune etoile"
)
_PORTUGUESE = (
    "sol mar luz voz paz fim mil eu tu com sem dois ver dar ir "
    "a.mor co.ra.ção noi.te vi.da lu.a ceu so.zi.nho can.tar tu.do "
    "tem.po mun.do fo.go a.gua bei.jo so.nho al.ma"
)
_WORDS = {
    "en": _ENGLISH,
    "es": _SPANISH,
    "it": _ITALIAN,
    "de": _GERMAN,
    "fr": _FRENCH,
    "pt": _PORTUGUESE,
}


def vocabulary(language: str) -> list[tuple[str, ...]]:
    """The words of `language` (an espeak-ng voice such as "en-us", "fr-fr" or "es"), each a tuple of
    syllables; languages without a word list get the English one."""
    words = _WORDS.get(language.split("-")[0].lower(), _ENGLISH)
    return [tuple(word.split(".")) for word in words.split()]


def lyric_lines(
    rng: np.random.Generator,
    language: str,
    phrase_lengths: Sequence[int],
    vocabulary_size: int = 24,
) -> list[list[str]]:
    """Syllables for each phrase: `phrase_lengths[i]` syllables in line i, drawn from a song-sized
    vocabulary (songs repeat their words), a word never split across two lines."""
    words = vocabulary(language)
    chosen = rng.choice(len(words), size=min(vocabulary_size, len(words)), replace=False)
    song_words = [words[i] for i in chosen]
    lines = []
    for length in phrase_lengths:
        line: list[str] = []
        while len(line) < length:
            room = length - len(line)
            fitting = [w for w in song_words if len(w) <= room]
            if not fitting:
                fitting = [w for w in words if len(w) == 1]
            line.extend(fitting[rng.integers(len(fitting))])
        lines.append(line)
    return lines
