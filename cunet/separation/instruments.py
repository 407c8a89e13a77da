"""Instrument specs: what to separate, as text (`vocals`, `vocals+drums`, `vocals=0.5`).

A spec is one or more terms joined by `+`; a term is an instrument name with an optional
`=weight`. It maps to one condition vector over the model's instruments (in config order):
`vocals+drums` -> vocals=1, drums=1; `vocals=0.5` -> vocals=0.5. Weights are 0 to `MAX_WEIGHT`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cunet.errors import CunetError

RESIDUAL = "residual"  # the output name of the mixture minus the estimates
# Weights a spec may give. Models are trained on conditions of 0s and 1s; larger weights
# extrapolate (a louder estimate) and every runtime stays finite up to this bound.
MAX_WEIGHT = 10.0


class InstrumentError(CunetError):
    """An instrument spec names an unknown instrument or is malformed."""


@dataclass(frozen=True)
class InstrumentSpec:
    """A parsed spec: `text` as written (the output name) and `weights` {instrument: weight}."""

    text: str
    weights: dict

    def condition(self, instruments) -> np.ndarray:
        """The condition vector (n_instruments,) float32 in `instruments` order."""
        vector = np.zeros(len(instruments), np.float32)
        for name, weight in self.weights.items():
            vector[list(instruments).index(name)] = weight
        return vector


def parse_spec(text: str, instruments) -> InstrumentSpec:
    """Parse `text` against the model's `instruments`; raises `InstrumentError` naming the problem."""
    instruments = list(instruments)
    valid = ", ".join(instruments)
    cleaned = str(text).strip().replace(" ", "")
    if not cleaned:
        raise InstrumentError(f"empty instrument spec (valid instruments: {valid})")
    weights: dict = {}
    for term in cleaned.split("+"):
        name, sep, value = term.partition("=")
        if name not in instruments:
            shown = name or term or "(empty)"
            raise InstrumentError(
                f"unknown instrument {shown!r} in {text!r} (valid instruments: {valid}; "
                "combine as vocals+drums or weight as vocals=0.5)"
            )
        if name in weights:
            raise InstrumentError(f"instrument {name!r} appears twice in {text!r}")
        weight = 1.0
        if sep:
            try:
                weight = float(value)
            except ValueError:
                raise InstrumentError(f"weight of {name!r} in {text!r} is not a number: {value!r}") from None
            if not (np.isfinite(weight) and 0 <= weight <= MAX_WEIGHT):
                raise InstrumentError(f"weight of {name!r} in {text!r} must be 0 to {MAX_WEIGHT:g}, got {value}")
        weights[name] = weight
    return InstrumentSpec(cleaned, weights)


def model_instruments(config) -> list:
    """What a model separates: all its instruments (C-U-Net) or its target (dedicated U-Net)."""
    return list(config.instruments) if config.conditioned else [config.model.target]


def parse_instruments(texts, config) -> list[InstrumentSpec]:
    """Parse and check specs against the model `config` describes; raises `CunetError`
    naming the problem (unknown, repeated, or not separable by a dedicated U-Net). Specs
    already parsed (`InstrumentSpec`) are checked, not parsed again."""
    if isinstance(texts, str):
        texts = [texts]
    specs = [text if isinstance(text, InstrumentSpec) else parse_spec(text, config.instruments) for text in texts]
    if not specs:
        raise CunetError(f"no instrument requested (valid instruments: {', '.join(model_instruments(config))})")
    names = [s.text for s in specs]
    if len(set(names)) != len(names) or RESIDUAL in names:
        raise CunetError(f"instruments requested twice: {names}")
    if not config.conditioned:
        target = config.model.target
        for spec in specs:
            if spec.weights != {target: 1.0}:
                raise CunetError(
                    f"this model is a dedicated U-Net for {target!r}: it separates only "
                    f"{target!r}, not {spec.text!r} (use a C-U-Net model for other instruments)"
                )
    return specs


def conditions(specs: list[InstrumentSpec], config) -> list:
    """The condition vector of each spec (n_instruments,) float32; None for a dedicated U-Net."""
    if not config.conditioned:
        return [None] * len(specs)
    return [spec.condition(config.instruments) for spec in specs]
