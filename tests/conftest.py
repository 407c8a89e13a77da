import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

MUSDB_MINI = Path(__file__).resolve().parents[2] / "shared" / "musdb-mini"


@pytest.fixture
def musdb_mini() -> Path:
    """The shared musdb-mini set, for slow end-to-end tests; skips where it is absent."""
    if not (MUSDB_MINI / "train").is_dir():
        pytest.skip(f"musdb-mini not found at {MUSDB_MINI} (only present on development machines)")
    return MUSDB_MINI
