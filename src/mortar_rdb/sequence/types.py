"""What type checkers see of a sequence.

The zope interfaces in :mod:`mortar_rdb.interfaces` say what a registered
sequence provides (``providedBy``, registration), but their methods are
declared without ``self``, so type checkers cannot use them. These
protocols declare the same methods for mypy and pyright:
:func:`~mortar_rdb.sequence.get_sequence` returns a :class:`ManagedSequence`.
"""
from __future__ import annotations

import collections.abc
from typing import Protocol

from ..sessions import AnySession

__all__ = ['ManagedSequence', 'Sequence']


class Sequence(Protocol):
    """A named source of non-repeating integers, as
    :class:`~mortar_rdb.interfaces.ISequence` describes it."""

    def next(self, session: AnySession) -> int:
        """The next integer of the sequence, taken using ``session``."""
        ...


class ManagedSequence(Sequence, Protocol):
    """A sequence that can also be inspected, moved forward and dropped, as
    :class:`~mortar_rdb.interfaces.IManagedSequence` describes it.

    Every implementation shipped with mortar_rdb is one.
    """

    @property
    def name(self) -> str:
        """The name the sequence is stored under."""
        ...

    def next_many(self, session: AnySession, count: int) -> collections.abc.Sequence[int]:
        """``count`` values at once, in increasing order."""
        ...

    def current(self, session: AnySession) -> int | None:
        """The value just below the one ``next()`` would return now, or None."""
        ...

    def restart(self, session: AnySession, value: int, force: bool = False) -> None:
        """Make ``value`` the next value ``next()`` returns."""
        ...

    def drop(self, session: AnySession) -> bool:
        """Remove the sequence's storage; return whether there was any."""
        ...
