"""The test session's own guarantees: an isolated cache, the installed data kept, and missing ImageJ failing CI."""

import os
from pathlib import Path

import pytest

from carekit.data import builtin
from tests.conftest import require


def test_the_cache_is_the_sessions_own_and_the_data_stays_installed():
    cache = Path(os.environ["CAREKIT_CACHE"])
    assert cache.is_dir() and cache.name.startswith("carekit-test-cache-")
    assert not cache.resolve().is_relative_to((Path.home() / ".cache" / "carekit").resolve())
    assert not builtin.data_dir().resolve().is_relative_to(cache.resolve())
    assert builtin.is_installed("hela") and builtin.is_installed("nuclei3d")


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("1", pytest.fail.Exception),
                                         ("", pytest.skip.Exception), ("false", pytest.skip.Exception)])
def test_a_missing_requirement_skips_locally_and_fails_in_ci(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="needs imagej"):
        require("needs imagej")
    require(None)  # nothing missing: nothing happens
