"""What the command line does, as functions of an engine.

Each function runs in a transaction of its own and commits it. ``impl``
chooses what they work on: ``'generic'`` (the default) the rows of the
``sequences`` table, whatever implementation an application registers;
``'native'`` the database's own sequences, as
:mod:`mortar_rdb.sequence.native` uses them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from . import native, schema
from ._sessions import session_cursor
from .errors import NoSuchSequence, SequenceMissing
from .generic import SequenceImplementation, reported

T = TypeVar('T')

#: The values ``impl`` may take.
IMPLEMENTATIONS = ('generic', 'native')


class Unset(Enum):
    """What :func:`listing` gives for a row holding NULL (a mortar_rdb 3.0 table allowed it)."""

    UNSET = 'unset'


UNSET = Unset.UNSET

#: A sequence's current value as :func:`listing` gives it.
Listed = int | None | Unset


class _Generic:
    """The rows of the ``sequences`` table."""

    options = ''
    implementation: Any = SequenceImplementation

    @staticmethod
    def prepare(engine: Engine) -> None:
        schema.create_table(engine)

    @staticmethod
    def listing(session: Session) -> list[tuple[str, Listed]]:
        rows = session_cursor(session).rows()
        return sorted((name, UNSET if value is None else reported(value)) for name, value in rows)


class _Native:
    """The database's own sequences."""

    options = ' --impl native'
    implementation: Any = native.SequenceImplementation

    @staticmethod
    def prepare(engine: Engine) -> None:
        pass

    @staticmethod
    def listing(session: Session) -> list[tuple[str, Listed]]:
        existing = native.SequenceImplementation.for_existing
        return [(name, existing(name).current(session)) for name in native.names(session)]


_KINDS: dict[str, type[_Generic] | type[_Native]] = {'generic': _Generic, 'native': _Native}


def _kind(impl: str) -> type[_Generic] | type[_Native]:
    try:
        return _KINDS[impl]
    except KeyError:
        raise ValueError(f'impl must be one of {", ".join(IMPLEMENTATIONS)}, not {impl!r}.') from None


@contextmanager
def _session(engine: Engine) -> Iterator[Session]:
    """A session in a transaction of its own, committed when the block ends without error.

    Ctrl-C closes the connection instead of rolling back: a driver stopped in
    the middle of a statement may not be able to send a rollback, and the
    database ends the transaction of a closed connection anyway, keeping
    nothing of it.
    """
    connection = engine.connect()
    session = Session(connection)
    failed = True
    try:
        with session.begin():
            try:
                yield session
            except KeyboardInterrupt:
                connection.invalidate()  # before session.begin() tries to roll back
                raise
        failed = False
    finally:
        try:
            session.close()
            connection.close()
        except Exception:
            if not failed:
                raise  # else the first error is the one to report


def _existing(engine: Engine, name: str, impl: str, work: Callable[[Any, Session], T]) -> T:
    kind = _kind(impl)
    sequence = kind.implementation.for_existing(name)
    with _session(engine) as session:
        try:
            return work(sequence, session)
        except SequenceMissing:
            raise NoSuchSequence(name, repr(engine.url), kind.options) from None


def _nothing(values: Sequence[int]) -> None:
    pass


def take(
    engine: Engine,
    name: str,
    count: int = 1,
    impl: str = 'generic',
    create: bool = True,
    deliver: Callable[[Sequence[int]], None] = _nothing,
) -> Sequence[int]:
    """Take ``count`` values of ``name`` and hand them to ``deliver`` before committing.

    If ``deliver`` raises (the values could not be written out), the
    transaction rolls back and a generic sequence gets its values back. With
    ``create``, what is missing is created first (for generic, the table
    too); without it, a missing sequence is :class:`NoSuchSequence`.
    """
    kind = _kind(impl)
    if create:
        kind.prepare(engine)
    with _session(engine) as session:
        if create:
            sequence = kind.implementation(name, session)
        else:
            sequence = kind.implementation.for_existing(name)
        try:
            values: Sequence[int] = sequence.next_many(session, count)
        except SequenceMissing:
            raise NoSuchSequence(name, repr(engine.url), kind.options) from None
        deliver(values)
        return values


def current(engine: Engine, name: str, impl: str = 'generic') -> int | None:
    """The last value ``name`` handed out, or None when it has not handed one out yet."""
    return _existing(engine, name, impl, lambda sequence, session: sequence.current(session))


def restart(engine: Engine, name: str, value: int, force: bool = False, impl: str = 'generic') -> None:
    """Make ``value`` the next value of ``name``; backwards only with ``force``."""
    _existing(engine, name, impl, lambda sequence, session: sequence.restart(session, value, force))


def drop(engine: Engine, name: str, impl: str = 'generic') -> None:
    """Delete the sequence ``name``; raise NoSuchSequence if there is none."""
    kind = _kind(impl)
    with _session(engine) as session:
        if not kind.implementation.drop_storage(name, session):
            raise NoSuchSequence(name, repr(engine.url), kind.options)


def listing(engine: Engine, impl: str = 'generic') -> list[tuple[str, Listed]]:
    """Every sequence's name and current value (as :func:`current` gives it, or
    :data:`UNSET` for a row holding NULL), by name."""
    kind = _kind(impl)
    with _session(engine) as session:
        return kind.listing(session)


create_table = schema.create_table
upgrade_table = schema.upgrade_table
outdated = schema.outdated
