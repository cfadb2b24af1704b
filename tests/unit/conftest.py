"""Fixtures of the unit tests of the Fiji plugin's Jython helpers (run under CPython with ImageJ stand-ins)."""

import sys
import types
from pathlib import Path

import pytest

from carekit.fiji.install import copy_helpers
from tests.unit.imagej_stand_ins import STAND_INS


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Path:
    """The helpers as `carekit fiji install` lays them out: <lib>/carekit_fiji/, contract.py included."""
    folder = tmp_path_factory.mktemp("Lib")
    copy_helpers(folder / "carekit_fiji")
    return folder


@pytest.fixture(scope="module")
def helpers(lib):
    with pytest.MonkeyPatch.context() as patch:
        for name, module in STAND_INS.items():
            patch.setitem(sys.modules, name, module)
        patch.syspath_prepend(str(lib))
        from carekit_fiji import appose_client, engines, images, options, restore
        yield types.SimpleNamespace(appose_client=appose_client, engines=engines, images=images, options=options,
                                    restore=restore, contract=sys.modules["carekit_fiji.contract"])
        for name in [name for name in sys.modules if name.split(".")[0] == "carekit_fiji"]:
            del sys.modules[name]
