"""What the page says about the model: its file, runtime, instruments and training data."""

from __future__ import annotations

from pathlib import Path

from cunet.separation.runtimes import is_default_model, resolve_model_path

PRETRAINED_README = Path(__file__).resolve().parent.parent / "pretrained" / "README.md"
TRAINED_ON_HEADING = "## What it was trained on"


def trained_on_summary(readme: Path = PRETRAINED_README) -> str:
    """The first paragraph under the README's "What it was trained on", as one line of text."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return ""
    _, found, rest = text.partition(TRAINED_ON_HEADING)
    paragraph = rest.strip().split("\n\n")[0] if found else ""
    return " ".join(paragraph.replace("**", "").split())


def model_info(separator, model_path=None) -> dict:
    """{model, runtime, instruments, config, trained_on} for /api/info."""
    path = resolve_model_path(model_path)
    default = is_default_model(path)
    return {
        "model": "embedded default model (cunet-default)" if default else str(path),
        "model_file": path.name,
        "runtime": separator.runtime,
        "instruments": list(separator.instruments),
        "config": separator.config.name,
        "trained_on": trained_on_summary() if default else f"see the model's config ({separator.config.name})",
    }
