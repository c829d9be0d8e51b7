"""A pooled sequence's block in this process: the values reserved and not yet handed out.

:class:`Blocks` is the one owner of the current block and of the lock that
refilling it takes. Taking a value needs no lock: with many threads, a lock
taken for every value turns each reservation's wait into a convoy that
outlasts it. So a block is a counter that one C call advances atomically,
replaced as a whole when it is refilled.
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from functools import partial

__all__ = ['Blocks']


class Blocks:
    """The current block of one pooled sequence in this process, and the lock its refill takes.

    ``take()`` is the next value of the block, or None when it is used up.
    Whoever gets None refills it under :attr:`lock` (after taking again:
    another thread may have refilled it meanwhile).
    """

    __slots__ = ('__weakref__', 'lock', 'take')

    def __init__(self) -> None:
        #: held while the block is refilled or forgotten, so one thread reserves and the others wait
        self.lock = threading.Lock()
        #: the next value of the block, or None when it is used up
        self.take: Callable[[], int | None] = _used_up

    def refill(self, values: range) -> None:
        """Hand out ``values`` from now on (called with :attr:`lock` held)."""
        self.take = _taker(values)

    def forget(self) -> None:
        """Drop the rest of the block: the next ``take()`` says it is used up."""
        self.take = _used_up

    def after_fork(self) -> None:
        """In a forked child: the block is the parent's, and so may be the lock's state."""
        self.lock = threading.Lock()
        self.take = _used_up


def _used_up() -> int | None:
    return None


def _gil_enabled() -> bool:
    is_enabled = getattr(sys, '_is_gil_enabled', None)
    return True if is_enabled is None else bool(is_enabled())


def _locked_taker(values: range) -> Callable[[], int | None]:
    """``take()`` where there is no GIL to make advancing an iterator atomic."""
    remaining = iter(values)
    lock = threading.Lock()

    def take() -> int | None:
        with lock:
            return next(remaining, None)

    return take


def _unlocked_taker(values: range) -> Callable[[], int | None]:
    # Under the GIL, next() on a range iterator is one atomic C call: two
    # threads never get the same value, and no Python frame is entered.
    return partial(next, iter(values), None)


_taker = _unlocked_taker if _gil_enabled() else _locked_taker
