"""Small helpers shared by the tests."""
from __future__ import annotations

from sqlalchemy import create_engine, select

from mortar_rdb.sequence.generic import sequences
from mortar_rdb.transactions import mark_written

MORTAR_3_TABLE = 'CREATE TABLE sequences (name VARCHAR(20) NOT NULL, current INTEGER, PRIMARY KEY (name))'


def make_mortar3_table(url, rows=(('invoices', 41),)):
    """Create 3.0's table (``name VARCHAR(20)``, nullable 32-bit ``current``) holding ``rows``."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(MORTAR_3_TABLE)
            for name, current in rows:
                connection.exec_driver_sql(
                    f"INSERT INTO sequences (name, current) VALUES ('{name}', {'NULL' if current is None else current})"
                )
    finally:
        engine.dispose()


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
