"""`cunet synth`: multitrack songs rendered from MIDI or procedural music, in the MUSDB18-HQ layout."""
