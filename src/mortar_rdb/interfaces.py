"""The interfaces that mortar_rdb registers its components under.

Their methods are declared without ``self``, as zope.interface wants, so
type checkers cannot use them: :mod:`mortar_rdb.sequence.types` declares
the same sequence methods as typing protocols.
"""
from __future__ import annotations

from zope.interface import Attribute, Interface


class ISession(Interface):
    """Makes SQLAlchemy sessions: a scoped session or a sessionmaker.

    :func:`mortar_rdb.register_session` registers one by name;
    :func:`mortar_rdb.get_session` calls it and returns the session, so
    anything registered under this interface with zope.component works too.
    """

    def __call__():
        """Return a session: the thread's own, or a new one."""


class ISequence(Interface):
    """A named source of non-repeating integers."""

    def next(session):
        """Return the next integer of the sequence, using ``session``."""


class IManagedSequence(ISequence):
    """A sequence that can also be inspected, moved forward, and dropped.

    It extends :class:`ISequence`, so code written for ``next()`` alone
    works unchanged. Every implementation shipped with mortar_rdb provides
    it. Values are integers of at least 1.
    """

    name = Attribute('The name the sequence is stored under.')

    def next_many(session, count):
        """Take ``count`` values at once; return them in increasing order.

        One round trip to the database where the implementation allows.
        Where the implementation can promise contiguous values (the generic
        and pooled ones) it returns ``range(first, first + count)``; otherwise a list of
        ``count`` distinct ints (the native one, whose values are contiguous
        only when nobody else took any meanwhile). ``count`` must be a
        positive integer.
        """

    def current(session):
        """The value just below the one ``next()`` would return now, or None.

        That is the last value handed out, or ``start - 1`` before the first
        one (``value - 1`` after a restart); None when that is below 1, as for
        a new sequence starting at 1. A snapshot: other transactions may take
        values as soon as it is read. Takes nothing. A pooled sequence
        reports the highest value reserved by any process: values still
        waiting in the blocks of live processes are below it.
        """

    def restart(session, value, force=False):
        """Make ``value`` the next value ``next()`` returns.

        Moving backwards (``value`` at or below :meth:`current`) could hand
        the same number out twice, so it raises
        :class:`~mortar_rdb.sequence.errors.SequenceRestartRefused` unless
        ``force`` is true.
        """

    def drop(session):
        """Remove the sequence's storage; return whether there was any.

        Called by :func:`mortar_rdb.sequence.drop_sequence`, which also
        removes the registration.
        """


class IManagedSequenceFactory(Interface):
    """What an implementation class offers besides making sequences.

    Pass such a class as ``impl`` to
    :func:`~mortar_rdb.sequence.register_sequence` and
    :func:`~mortar_rdb.sequence.drop_sequence`.
    """

    def __call__(name, session, start=1, **options):
        """Create the sequence's storage if missing and return the sequence.

        ``start`` is the first value of a sequence whose storage is created
        now; a sequence that already exists keeps its value.
        """

    def drop_storage(name, session):
        """Remove the storage of sequence ``name``; return whether there was any."""
