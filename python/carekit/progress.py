"""Progress bars that stay readable in a terminal and in CI logs (few updates when output is not a terminal)."""

from __future__ import annotations

import itertools
import sys
from typing import Callable


def progress_bar(total: int, desc: str, unit: str = "it", disable: bool = False, initial: int = 0):
    from tqdm.auto import tqdm

    interactive = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, initial=initial, dynamic_ncols=True,
                mininterval=0.2 if interactive else 15.0)


def tile_counter(bar, total: int, on_progress: Callable[[int, int], None] | None) -> Callable[[], None]:
    """The callback for each finished tile: advances `bar` and reports (tiles done, total) to `on_progress`, counted
    here rather than read from bar.n, which a disabled bar (progress=False, as the Fiji worker runs) keeps at 0."""
    done = itertools.count(1)

    def tile_done() -> None:
        bar.update(1)
        if on_progress is not None:
            on_progress(next(done), total)

    return tile_done
