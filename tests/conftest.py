import os
from pathlib import Path

import pytest

from cunet.config import load_config

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MUSDB_MINI = Path(__file__).resolve().parents[2] / "shared" / "musdb-mini"


@pytest.fixture
def musdb_mini() -> Path:
    """The shared musdb-mini set, for slow end-to-end tests; skips where it is absent."""
    if not (MUSDB_MINI / "train").is_dir():
        pytest.skip(f"musdb-mini not found at {MUSDB_MINI} (only present on development machines)")
    return MUSDB_MINI


@pytest.fixture(scope="session")
def tiny():
    """The `tiny` test config."""
    return load_config("tiny")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory, tiny):
    """A stem cache of three generated MUSDB18-HQ tracks for `tiny` (read-only for tests)."""
    from cunet.training.cache import prepare_cache
    from musdb_fixtures import make_musdb_root

    tmp = tmp_path_factory.mktemp("tiny-cache")
    root = make_musdb_root(tmp / "musdb", "wav", tracks={"train": 3})
    prepare_cache(root, tiny, tmp / "cache", is_wav=True, progress=False)
    return tmp / "cache"
