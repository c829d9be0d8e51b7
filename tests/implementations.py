"""Every sequence implementation, and what it promises: the one list.

tests/guarantees checks each promise for every implementation and database
where it applies; tests/workers.py finds an implementation by its ``id``;
benchmarks/implementations.py and benchmarks/soak.py measure and soak the
same list. Adding an implementation to all of them is one entry in
IMPLEMENTATIONS.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine

from mortar_rdb.interfaces import ISequence
from mortar_rdb.sequence import generic, native, pooled, register_sequence

ALL_DATABASES = frozenset({'sqlite', 'postgresql', 'mysql'})


@dataclass(frozen=True)
class Implementation:
    """How to use one implementation, and what it promises."""

    id: str
    impl: Any
    options: Mapping[str, Any] = field(default_factory=dict)
    #: committed values are exactly 1..N; a rollback gives its values back
    gapless: bool = False
    #: next() locks the sequence until the caller's transaction ends
    blocks_others: bool = False
    #: keeps its state in the ``sequences`` table (legacy tables, overflow)
    uses_table: bool = False
    #: next() runs its SQL on the connection of the caller's session
    uses_callers_connection: bool = True
    #: registration, restart and drop commit at once, whatever the caller's transaction does
    changes_at_once: bool = False
    #: ``refuses_name(name, backend)``: whether a name valid for the table is refused here
    refuses_name: Callable[[str, str], bool] = lambda name, backend: False
    #: database backend names (SQLAlchemy's, e.g. 'mysql' for MariaDB)
    databases: frozenset[str] = ALL_DATABASES

    def runs_on(self, engine: Engine) -> bool:
        """Whether the implementation works on ``engine``'s database (MariaDB
        has native sequences from 10.3: known once the engine has connected)."""
        if engine.dialect.name not in self.databases:
            return False
        return self.uses_table or bool(engine.dialect.supports_sequences)

    def with_options(self, id: str, **options: Any) -> Implementation:
        """The same implementation under another ``id``, with other options (a pooled block size)."""
        return replace(self, id=id, options={**self.options, **options})

    def prepare(self, engine: Engine) -> None:
        """Create what the implementation needs in an empty database."""
        if self.uses_table:
            generic.sequences.create(engine, checkfirst=True)

    def register(self, name: str, session: Any, **options: Any) -> ISequence:
        return register_sequence(name, session, impl=self.impl, **{**self.options, **options})

    def create(self, name: str, session: Any) -> ISequence:
        """The sequence object without registering it (for worker loops)."""
        return self.impl(name, session, **self.options)  # type: ignore[no-any-return]


GENERIC = Implementation('generic', generic.SequenceImplementation, gapless=True, blocks_others=True, uses_table=True)

POOLED = Implementation(
    'pooled',
    pooled.SequenceImplementation,
    {'block_size': 10},
    uses_table=True,
    uses_callers_connection=False,
    changes_at_once=True,
)


def native_refuses_name(name: str, backend: str) -> bool:
    """The identifier rules: PostgreSQL's 63 bytes; MariaDB's 64 characters
    of the Basic Multilingual Plane, with no space, tab or line break at the end."""
    if backend == 'postgresql':
        return len(name.encode('utf-8')) > 63
    return len(name) > 64 or name[-1:] in ' \t\n\r\v\f' or any(ord(character) > 0xFFFF for character in name)


NATIVE = Implementation(
    'native',
    native.SequenceImplementation,
    databases=frozenset({'postgresql', 'mysql'}),
    changes_at_once=True,
    refuses_name=native_refuses_name,
)

IMPLEMENTATIONS = [GENERIC, POOLED, NATIVE]

BY_ID = {implementation.id: implementation for implementation in IMPLEMENTATIONS}
