"""The classical_blend option of CARE Restore: the model's own choice unless given (contract.blend_value), the same
values from run_in_fiji and the plugin, anything else refused; and the plugin's dialog parameters against the
contract's options and defaults."""

import numpy as np
import pytest

from carekit.fiji import contract
from carekit.fiji.install import scripts_dir
from carekit.fiji.run import plugin_options


@pytest.mark.parametrize("text, value", [("model", None), (" Model ", None), ("", None), ("true", True),
                                         ("TRUE", True), ("on", True), ("false", False), ("0", False)])
def test_the_blend_option_is_the_models_own_choice_unless_given(helpers, text, value):
    assert helpers.options.from_macro_string(f"model=[/m.zip] classical_blend=[{text}]")["classical_blend"] is value
    assert contract.blend_value(text) is value


@pytest.mark.parametrize("value", [None, True, False])
def test_run_in_fiji_passes_the_blend_choice_through_the_macro_options(helpers, value, tmp_path):
    written = plugin_options(tmp_path / "m.zip", classical_blend=value)
    assert helpers.options.from_macro_string(written)["classical_blend"] is value


def test_the_plugins_dialog_parameters_are_the_contracts_options_with_its_defaults():
    """The #@ parameters (Fiji's dialog) name the options contract.OPTION_DEFAULTS holds, with the same defaults,
    and the blend's choices are the values contract.blend_value reads."""
    import re

    plugin = (scripts_dir() / "plugins" / "CARE" / "CARE_Restore.py").read_text()
    parameters = re.findall(r"^#@ (\w+) \((.*)\) (\w+)$", plugin, re.M)
    assert sorted(name for _, _, name in parameters) == sorted(contract.OPTION_DEFAULTS)
    for kind, attributes, name in parameters:
        value = re.search(r'\bvalue=("([^"]*)"|[\w.]+)', attributes)
        if kind != "File":
            assert (value.group(2) if value.group(2) is not None else value.group(1)).lower() == \
                contract.OPTION_DEFAULTS[name], name
    blend = next(attributes for _, attributes, name in parameters if name == "classical_blend")
    choices = re.search(r"choices=\{(.*?)\}", blend).group(1)
    assert [contract.blend_value(c.strip(' "')) for c in choices.split(",")] == [None, True, False]
    assert "persist=false" in blend  # not the value a checkbox of an older plugin left in Fiji's preferences


def test_a_blend_value_neither_side_takes_is_refused_not_read_as_off(helpers):
    from carekit.errors import InputError
    from carekit.fiji.run import run_in_fiji

    with pytest.raises(helpers.options.OptionError, match="classical_blend must be model .* got 'auto'"):
        helpers.options.from_macro_string("model=[/m.zip] classical_blend=auto")
    for value in ("false", "model", 1):  # restore()'s values are None, True and False
        with pytest.raises(InputError, match="classical_blend must be True, False or None"):
            run_in_fiji("/no/such/model.zip", np.zeros((8, 8), np.float32), classical_blend=value)
