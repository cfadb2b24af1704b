"""Progress bars that stay readable in a terminal and in CI logs (few updates when output is not a terminal)."""

from __future__ import annotations

import sys


def progress_bar(total: int, desc: str, unit: str = "it", disable: bool = False, initial: int = 0):
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, initial=initial, dynamic_ncols=True,
                mininterval=0.2 if interactive else 15.0)
