import pytest


@pytest.fixture(scope="session")
def separator():
    """The embedded model, loaded once for every serve test (LiteRT when it can)."""
    from cunet.separation.separator import Separator

    return Separator.load()
