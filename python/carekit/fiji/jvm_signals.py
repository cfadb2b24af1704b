"""The JVM's own fault handlers. HotSpot turns SIGSEGV/SIGBUS/SIGFPE/SIGILL into normal events (safepoint polls,
implicit null checks, stack overflow checks), so they must stay installed while Java code runs. Code that swaps
them while the JVM runs breaks that: pytest's faulthandler plugin disables its handler when the session ends,
which reinstates the default action it saw before the JVM started, and the next such trap (Java runs at exit:
ImageJ's pool, the shutdown hooks, JPype's shutdown) kills Python with exit code 139."""

from __future__ import annotations

import ctypes
import os
import signal

_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL")
_ACTION_BYTES = 512  # more than any platform's struct sigaction, which is saved and restored as opaque bytes


def _libc():
    return ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None


def save() -> dict[int, ctypes.Array]:
    """The current actions of the fault signals (call right after the JVM started)."""
    libc = _libc()
    if libc is None:
        return {}
    saved = {}
    for name in _SIGNALS:
        action = ctypes.create_string_buffer(_ACTION_BYTES)
        if libc.sigaction(getattr(signal, name), None, action) == 0:
            saved[getattr(signal, name)] = action
    return saved


def restore(saved: dict[int, ctypes.Array]) -> None:
    """Reinstate actions from `save` (before Java runs again after others may have replaced them)."""
    libc = _libc()
    for number, action in saved.items():
        libc.sigaction(number, action, None)
