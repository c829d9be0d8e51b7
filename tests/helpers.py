"""Small helpers shared by the tests."""
from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select

from mortar_rdb.sequence.generic import sequences
from mortar_rdb.transactions import mark_written


def legacy_table() -> Table:
    """The sequences table as mortar_rdb 3.0 created it."""
    return Table(
        'sequences',
        MetaData(),
        Column('name', String(20), primary_key=True),
        Column('current', Integer),
    )


def stored_values(url: str) -> dict[str, int]:
    """What the sequences table holds, read on a connection of its own."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(select(sequences.c.name, sequences.c.current)).all())
    finally:
        engine.dispose()


def write(session, statement):
    """Run a Core write through a transactional session, as a user would."""
    session.execute(statement)
    mark_written(session())
