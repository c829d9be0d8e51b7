"""The interfaces that mortar_rdb registers its components under."""
from __future__ import annotations

from zope.interface import Interface


class ISession(Interface):
    """A SQLAlchemy session (or scoped session) registered by name.

    :func:`mortar_rdb.register_session` registers one;
    :func:`mortar_rdb.get_session` returns it.
    """


class ISequence(Interface):
    """A named source of non-repeating integers."""

    def next(session):  # type: ignore[misc]  # zope interface methods take no self
        """Return the next integer of the sequence, using ``session``."""
