"""What the command line does, as functions of an engine.

Each function runs in a transaction of its own and commits it. They work on
the generic implementation's ``sequences`` table, whatever implementation an
application registers.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from . import schema
from .access import access
from .errors import NoSuchSequence, SequenceMissing
from .generic import SequenceImplementation, reported

T = TypeVar('T')


@contextmanager
def _session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session, session.begin():
        yield session


def _existing(engine: Engine, name: str, work: Callable[[SequenceImplementation, Session], T]) -> T:
    sequence = SequenceImplementation.for_existing(name)
    with _session(engine) as session:
        try:
            return work(sequence, session)
        except SequenceMissing:
            raise NoSuchSequence(name, repr(engine.url)) from None


def take(engine: Engine, name: str, count: int = 1) -> range:
    """Take ``count`` values of ``name``, creating the table and the sequence if missing."""
    schema.create_table(engine)
    with _session(engine) as session:
        return SequenceImplementation(name, session).next_many(session, count)


def current(engine: Engine, name: str) -> int | None:
    """The last value ``name`` handed out, or None when it has not handed one out yet."""
    return _existing(engine, name, lambda sequence, session: sequence.current(session))


def restart(engine: Engine, name: str, value: int, force: bool = False) -> None:
    """Make ``value`` the next value of ``name``; backwards only with ``force``."""
    _existing(engine, name, lambda sequence, session: sequence.restart(session, value, force))


def drop(engine: Engine, name: str) -> None:
    """Delete the sequence ``name``; raise NoSuchSequence if there is none."""
    sequence = SequenceImplementation.for_existing(name)
    with _session(engine) as session:
        if not sequence.drop(session):
            raise NoSuchSequence(name, repr(engine.url))


def listing(engine: Engine) -> list[tuple[str, int | None]]:
    """Every sequence's name and current value (as :func:`current` gives it), by name."""
    with _session(engine) as session:
        db = access(session)
        rows = db.run(db.sql.all, db.cursor)
    return sorted((name, reported(value)) for name, value in rows)


create_table = schema.create_table
upgrade_table = schema.upgrade_table
outdated = schema.outdated
