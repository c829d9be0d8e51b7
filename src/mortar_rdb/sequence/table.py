"""The ``sequences`` table: one row per sequence, holding its last value.

mortar_rdb 3.0 created it with ``name VARCHAR(20)`` and a 32-bit
``current``; such tables keep working, and new ones get longer names and a
64-bit ``current``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, inspect
from sqlalchemy.dialects import mysql

from ..controlled import Source

NAME_LENGTH = 255
INT64_MAX = 2**63 - 1

#: The MetaData holding only the ``sequences`` table, for Alembic and friends.
metadata = MetaData()

# MySQL and MariaDB compare strings case-insensitively and, for most
# collations, ignoring trailing spaces; a binary collation keeps
# 'Invoice', 'invoice' and 'invoice ' three different sequences, as
# they are on every other database.
_name_type = (
    String(NAME_LENGTH)
    .with_variant(mysql.VARCHAR(NAME_LENGTH, charset='utf8mb4', collation='utf8mb4_bin'), 'mysql')
    .with_variant(mysql.VARCHAR(NAME_LENGTH, charset='utf8mb4', collation='utf8mb4_nopad_bin'), 'mariadb')
)

sequences = Table(
    'sequences',
    metadata,
    Column('name', _name_type, primary_key=True),
    Column('current', BigInteger, nullable=False),
)

#: A :class:`mortar_rdb.controlled.Source` for the ``sequences`` table.
source = Source(sequences)


@dataclass(frozen=True)
class TableShape:
    """What the sequences table in one database can hold."""

    name_length: int
    ceiling: int


def read_shape(connection: Connection, integer_ceiling: Callable[[object], int]) -> TableShape | None:
    """The shape of the sequences table, or None when it does not exist."""
    inspector = inspect(connection)
    if not inspector.has_table(sequences.name):
        return None
    columns = {column['name'].lower(): column['type'] for column in inspector.get_columns(sequences.name)}
    name_length = getattr(columns.get('name'), 'length', None) or NAME_LENGTH
    return TableShape(name_length=name_length, ceiling=integer_ceiling(columns.get('current')))

