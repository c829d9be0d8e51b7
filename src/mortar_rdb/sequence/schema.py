"""Creating the ``sequences`` table and upgrading it from mortar_rdb 3.0.

mortar_rdb 3.0 made ``name VARCHAR(20)`` and a 32-bit, nullable
``current``; :func:`upgrade_table` widens such a table in place to the shape
of :data:`~mortar_rdb.sequence.generic.sequences` without changing a value.
Each function takes an engine (and uses a transaction of its own) or a
connection (and uses the caller's transaction, as in an Alembic migration).
The DDL for each database is in ``mortar_rdb.sequence._dialects.upgrade``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.engine.mock import MockConnection

from ._per_engine import per_engine
from ._table import sequences
from .errors import OfflineMigrationUnsupported, SequenceTableMissing, SequenceTableNotUpgradable

__all__ = ['create_or_upgrade_table', 'create_table', 'outdated', 'upgrade_table']

T = TypeVar('T')
#: What the functions here take. ``None`` is in it because it is the type of
#: ``get_session().bind`` (as in ``create_table(get_session().bind)``); it is
#: refused, saying why, when called, as is the MockConnection that
#: ``op.get_bind()`` gives in Alembic's offline mode (typed as a Connection).
Bind = Engine | Connection | None


def _run(bind: Bind, work: Callable[[Connection], T], function: str) -> T:
    if isinstance(bind, MockConnection):
        # Alembic's offline mode (--sql) hands migrations a connection that
        # only writes SQL out: there is no table to look at.
        raise OfflineMigrationUnsupported(function)
    if bind is None:
        raise TypeError(
            'Expected an engine or a connection, but got None: a session bound per table (binds=), '
            'or not bound at all, has None as its .bind. Pass the engine of the database instead.'
        )
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            return work(connection)
    return work(bind)


def _exists(connection: Connection) -> bool:
    return bool(inspect(connection).has_table(sequences.name))


def _outdated(connection: Connection) -> list[str]:
    if not _exists(connection):
        raise SequenceTableMissing(repr(connection.engine.url))
    # Each is also a Difference that says what upgrading makes of it.
    differences: list[str] = [*per_engine(connection.engine).upgrade.outdated(connection)]
    return differences


def outdated(bind: Bind) -> list[str]:
    """How the sequences table differs from the current shape; empty when it does not."""
    return _run(bind, _outdated, 'outdated')


def _create(connection: Connection) -> bool:
    if _exists(connection):
        return False
    sequences.create(connection)
    per_engine(connection.engine).forget_shape()
    return True


def create_table(bind: Bind) -> bool:
    """Create the sequences table unless it exists; return whether it was created."""
    return _run(bind, _create, 'create_table')


def _upgrade(connection: Connection) -> bool:
    if not _outdated(connection):
        return False
    unset = connection.execute(select(sequences.c.name).where(sequences.c.current.is_(None))).scalars().all()
    if unset:
        raise SequenceTableNotUpgradable(
            f'Sequences {", ".join(map(repr, sorted(unset)))} have no current value (NULL); '
            'set each to the last value it handed out, then upgrade the table again.'
        )
    facts = per_engine(connection.engine)
    facts.forget_shape()
    try:
        facts.upgrade.upgrade(connection)
    finally:
        facts.forget_shape()
    return True


def upgrade_table(bind: Bind) -> bool:
    """Bring a mortar_rdb 3.0 sequences table to the current shape, keeping every value.

    Returns whether anything changed: a table that is already current is
    left alone. Raises
    :class:`~mortar_rdb.sequence.errors.SequenceTableMissing` when there is
    no table to upgrade.
    """
    return _run(bind, _upgrade, 'upgrade_table')


def _create_or_upgrade(connection: Connection) -> Literal['created', 'upgraded', 'current']:
    if _create(connection):
        return 'created'
    return 'upgraded' if _upgrade(connection) else 'current'


def create_or_upgrade_table(bind: Bind) -> Literal['created', 'upgraded', 'current']:
    """Make sure the sequences table exists in the current shape; say what was done.

    Meant for migrations, for instance in an Alembic revision::

        create_or_upgrade_table(op.get_bind())
    """
    return _run(bind, _create_or_upgrade, 'create_or_upgrade_table')
