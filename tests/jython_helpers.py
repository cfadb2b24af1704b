"""Load one of the plugin's Jython helpers that need no ImageJ (fiji-scripts/lib/carekit_fiji/NAME.py, Jython 2.7 /
CPython 3 common code) as a standalone module, so its pure functions are tested under CPython."""

import importlib.util

from carekit.fiji.install import scripts_dir


def load_helper(name: str):
    path = scripts_dir() / "lib" / "carekit_fiji" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"carekit_fiji_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
