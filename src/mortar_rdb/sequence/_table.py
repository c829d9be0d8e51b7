"""The ``sequences`` table: one row per sequence, holding its last value.

mortar_rdb 3.0 created it with ``name VARCHAR(20)`` and a 32-bit
``current``; such tables keep working, and new ones get longer names and a
64-bit ``current``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, inspect, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from ..controlled import Source

NAME_LENGTH = 255
INT64_MAX = 2**63 - 1

#: The MetaData holding only the ``sequences`` table, for Alembic and friends.
metadata = MetaData()


class SequenceName(TypeDecorator[str]):
    """A VARCHAR that compares names exactly on every database.

    MySQL and MariaDB compare strings case-insensitively by default, and most
    of their collations ignore trailing spaces; a binary (on MariaDB also
    NO PAD) collation keeps 'invoice', 'Invoice' and 'invoice ' three
    sequences, as they are elsewhere.
    """

    impl = String(NAME_LENGTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[str]:
        if dialect.name in ('mysql', 'mariadb'):
            if getattr(dialect, 'is_mariadb', False):
                collation = 'utf8mb4_nopad_bin'
            elif (dialect.server_version_info or (0,)) >= (8,):
                collation = 'utf8mb4_0900_bin'
            else:  # MySQL 5.7 has no NO PAD collation: 'a' and 'a ' are one name there
                collation = 'utf8mb4_bin'
            return dialect.type_descriptor(mysql.VARCHAR(NAME_LENGTH, charset='utf8mb4', collation=collation))
        return dialect.type_descriptor(String(NAME_LENGTH))


sequences = Table(
    'sequences',
    metadata,
    Column('name', SequenceName(), primary_key=True),
    # 0, as in mortar_rdb 3.0, so that a row inserted by hand with only a
    # name starts the sequence at 1.
    Column('current', BigInteger, nullable=False, default=0, server_default=text('0')),
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

