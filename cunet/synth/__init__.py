"""`cunet synth`: multitrack songs rendered from MIDI or procedural music, in the MUSDB18-HQ layout.

The pipeline, one module per stage: music (`music` from `harmony`, `grid`, `drums`,
`accompaniment`, `melody`; or `midi`) -> a `song.Song` of parts -> audio per part (`render`:
FluidSynth; `voice`: the sung voice) -> `effects` (pedalboard) -> `mixing` (pan, width, balance,
one common gain) -> `tracks` (the spec and `render_track`) -> `dataset` (the train/test plan and
atomic track folders) -> `runner` (the command, in parallel worker processes)."""
