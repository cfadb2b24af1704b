"""run_in_fiji is for images that fit in memory: a larger one is refused before ImageJ starts, pointing to the
large-data path."""

import numpy as np
import pytest

from carekit.errors import InputError
from carekit.fiji.run import run_in_fiji

from .conftest import HELA_MODEL


def test_run_in_fiji_refuses_an_image_larger_than_memory_and_names_the_large_data_path():
    huge = np.broadcast_to(np.zeros(1, np.uint16), (4096, 8192, 8192))  # 256 GiB as float32, no memory used
    with pytest.raises(InputError, match=r"run_in_fiji is for images that fit in memory: .*carekit predict --model M "
                                         r"big\.ome\.zarr --out restored\.ome\.zarr"):
        run_in_fiji(HELA_MODEL, huge, "ZYX")
