"""What the suite measures: every sequence implementation, and the raw driver.

The implementations are the one list in tests/implementations.py, which the
tests and the soak use too: an implementation added there is measured by
every workload on every database where it runs. Pooled sequences are measured
at several block sizes (:data:`BLOCK_SIZES`).
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, delete, event, insert, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mortar_rdb.sequence import generic  # noqa: E402
from mortar_rdb.sequence.generic import sequences  # noqa: E402
from tests import implementations as shared  # noqa: E402

#: The W3 table: a duplicate value would break its primary key.
metadata = MetaData()
taken = Table('bench_taken', metadata, Column('value', Integer, primary_key=True, autoincrement=False))

RAW = 'raw'


@dataclass(frozen=True)
class Implementation:
    """One way of taking values, as the suite names and runs it."""

    label: str
    #: Whether committed values are exactly 1..K (checked by W2c and W3).
    gapless: bool
    #: ``make(name, session)`` returns the sequence; None for the raw driver.
    make: Callable[[str, Session], Any] | None
    #: ``next()`` calls W1 makes in one transaction; fast ones need many to be timed.
    w1_calls: int = 2000
    applies: Callable[[Engine], bool] = field(default=lambda engine: True)


#: Pooled sequences are measured at each block size, with the ``next()``
#: calls W1 needs to time them (fast ones need many).
BLOCK_SIZES = {'pooled': {1: 2000, 100: 100_000, 1000: 1_000_000}}


def _measured(implementation: shared.Implementation, w1_calls: int = 2000) -> Implementation:
    return Implementation(
        implementation.id,
        gapless=implementation.gapless,
        make=implementation.create,
        w1_calls=w1_calls,
        applies=implementation.runs_on,
    )


def _every_implementation() -> list[Implementation]:
    measured = [Implementation(RAW, gapless=True, make=None)]
    for implementation in shared.IMPLEMENTATIONS:
        sizes = BLOCK_SIZES.get(implementation.id)
        if sizes is None:
            measured.append(_measured(implementation))
            continue
        for size, w1_calls in sizes.items():
            variant = implementation.with_options(f'{implementation.id}/{size}', block_size=size)
            measured.append(_measured(variant, w1_calls))
    return measured


IMPLEMENTATIONS: list[Implementation] = _every_implementation()

BY_LABEL = {implementation.label: implementation for implementation in IMPLEMENTATIONS}


def sequence_name(label: str) -> str:
    return 'bench_' + label.replace('/', '_')


def reset(engine: Engine, label: str) -> None:
    """Start ``label``'s sequence from zero and empty the W3 table."""
    sequences.create(engine, checkfirst=True)
    metadata.create_all(engine)
    name = sequence_name(label)
    with engine.begin() as connection:
        connection.execute(delete(taken))
        connection.execute(delete(sequences).where(sequences.c.name == name))
        connection.execute(insert(sequences).values(name=name, current=0))


class Worker(Protocol):
    """One thread's way of running transactions that take values."""

    def begin(self) -> None: ...
    def next(self) -> int: ...
    def taker(self) -> Callable[[], int]: ...
    def store(self, value: int) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


class Shared:
    """What the workers of one process share: the engine and, for the library, the sequence."""

    def __init__(self, engine: Engine, implementation: Implementation) -> None:
        self.engine = engine
        self.implementation = implementation
        self.name = sequence_name(implementation.label)
        self.sequence: Any = None
        if implementation.make is not None:
            with Session(engine) as session, session.begin():
                self.sequence = implementation.make(self.name, session)

    def worker(self) -> Worker:
        if self.sequence is None:
            return RawWorker(self.engine, self.name)
        return LibraryWorker(self.engine, self.sequence)


class LibraryWorker:
    """A session of its own and the shared sequence, as an application uses them."""

    def __init__(self, engine: Engine, sequence: Any) -> None:
        self.session = Session(engine)
        self.sequence = sequence
        self.take = partial(sequence.next, self.session)

    def begin(self) -> None:
        self.session.begin()

    def next(self) -> int:
        return self.take()

    def taker(self) -> Callable[[], int]:
        """The cheapest call that takes a value, for tight loops."""
        return self.take

    def store(self, value: int) -> None:
        self.session.execute(insert(taken), {'value': value})

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def close(self) -> None:
        self.session.close()


def _compiled(statement: Any, engine: Engine, values: dict[str, Any]) -> tuple[str, Any]:
    """SQL text and driver-style parameters of ``statement``, compiled once."""
    compiled = statement.compile(dialect=engine.dialect)
    parameters = compiled.construct_params(values)
    if engine.dialect.positional:
        return compiled.string, tuple(parameters[key] for key in compiled.positiontup or ())
    return compiled.string, parameters


def increment_sql(url: str, name: str) -> tuple[str, Any]:
    """The SQL string and driver parameters the generic ``next()`` sends for
    ``name``, as the driver receives them.

    Caught with SQLAlchemy's ``before_cursor_execute`` event on an engine of
    its own (the library runs its statements through SQLAlchemy on an engine
    with events), from a second ``next()`` in one transaction, rolled back.
    """
    engine = create_engine(url)
    sent: list[tuple[str, Any]] = []
    listening = False

    @event.listens_for(engine, 'before_cursor_execute')
    def catch(connection: Any, cursor: Any, statement: str, parameters: Any, *arguments: Any) -> None:
        if listening:
            sent.append((statement, parameters))

    try:
        with Session(engine) as session, session.begin():
            sequence = generic.SequenceImplementation(name, session)
            sequence.next(session)
            listening = True
            sequence.next(session)
            session.rollback()
    finally:
        engine.dispose()
    if len(sent) != 1:
        raise RuntimeError(f'next() sent {len(sent)} statements, not one: {[sql for sql, _ in sent]}')
    return sent[0]


class RawWorker:
    """A plain driver connection running the library's own increment statement.

    The SQL is the string the library sends for this dialect (``UPDATE ..
    RETURNING``, or ``LAST_INSERT_ID`` on MySQL and MariaDB), with its
    parameters prepared once: what a hand-written loop would do.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        dialect = engine.dialect
        arguments, keywords = dialect.create_connect_args(engine.url)
        self.connection = dialect.loaded_dbapi.connect(*arguments, **keywords)
        self.cursor = self.connection.cursor()
        self.sql, self.parameters = increment_sql(engine.url.render_as_string(hide_password=False), name)
        self.returns = 'RETURNING' in self.sql.upper()
        self.insert_sql, _ = _compiled(insert(taken).values(value=0), engine, {'value': 0})
        self.positional = dialect.positional

    def begin(self) -> None:
        pass  # DB-API drivers open the transaction with the first statement

    def next(self) -> int:
        cursor = self.cursor
        cursor.execute(self.sql, self.parameters)
        return cursor.fetchone()[0] if self.returns else cursor.lastrowid

    def taker(self) -> Callable[[], int]:
        return self.next

    def store(self, value: int) -> None:
        self.cursor.execute(self.insert_sql, (value,) if self.positional else {'value': value})

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    def close(self) -> None:
        self.connection.close()


def committed_values(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.execute(select(taken.c.value)).scalars())
