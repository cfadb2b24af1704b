"""`carekit compare`'s closing line, `--compare-on`'s choice from the verdicts, and the refusal of a rescale that is
not one mode per model (no TensorFlow)."""

from collections import Counter

import numpy as np
import pytest

from carekit.cli.compare import NOT_COMPARED, verdict
from carekit.errors import InputError
from carekit.predict.model_comparison import compare_models


def test_the_closing_line_says_which_model_to_use_or_that_neither_wins_everywhere():
    names = ("a", "b")
    assert verdict(Counter({1: 2, None: 1}), names) == "a better on 0, b on 2, level on 1: use b"
    assert verdict(Counter({0: 1, 1: 1}), names).endswith("neither restores every image better; compare their "
                                                            "restorations by eye where they differ")
    assert verdict(Counter({None: 3}), names).endswith("no difference the estimate can tell on these images")
    assert verdict(Counter({0: 1, NOT_COMPARED: 1}), names) == ("a better on 1, b on 0, level on 0, not compared 1: "
                                                               "use a")
    assert verdict(Counter({NOT_COMPARED: 2}), names).endswith("not compared 2: no image could be compared")


def test_a_rescale_that_is_not_one_mode_per_model_is_refused_before_anything_loads():
    with pytest.raises(InputError, match="rescale must be a pair, one mode per model"):
        compare_models("no-such-model", "no-such-model", np.zeros((64, 64)), rescale="search")


def test_compare_on_returns_to_the_start_named_better_on_more_images():
    from carekit.cli.start_comparison import start_wins

    assert start_wins(Counter({0: 1, None: 3})) and start_wins(Counter({0: 3, 1: 1}))
    assert not start_wins(Counter({0: 1, 1: 1}))  # a tie: the new weights, which won on validation
    assert not start_wins(Counter({None: 4})) and not start_wins(Counter({NOT_COMPARED: 2, 1: 1}))
