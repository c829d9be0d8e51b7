"""The one place where sessions and sequences are registered by name.

Registrations live in a :class:`zope.interface.registry.Components`. Tests
can swap in a fresh one with :func:`isolated` so that what they register
does not leak into other tests.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from zope.interface.registry import Components

_current = Components('mortar_rdb')


def components() -> Components:
    """The registry in use now."""
    return _current


@contextmanager
def isolated(inherit: bool = False) -> Iterator[Components]:
    """Use a fresh registry until the block ends, then restore the old one.

    With ``inherit=True`` the fresh registry still sees what was registered
    before the block; anything registered inside the block is forgotten
    when it ends either way.
    """
    global _current
    previous = _current
    _current = Components('mortar_rdb.isolated', bases=(previous,) if inherit else ())
    try:
        yield _current
    finally:
        _current = previous
