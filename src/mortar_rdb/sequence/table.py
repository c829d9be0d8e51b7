"""The ``sequences`` table: one row per sequence, holding its last value.

mortar_rdb 3.0 created it with ``name VARCHAR(20)`` and a 32-bit
``current``; such tables keep working, and new ones get longer names and a
64-bit ``current``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Connection, MetaData, String, Table, inspect
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles

from ..controlled import Source

NAME_LENGTH = 255
INT64_MAX = 2**63 - 1

#: The MetaData holding only the ``sequences`` table, for Alembic and friends.
metadata = MetaData()


class _BinaryName(mysql.VARCHAR):
    """A name column on MySQL and MariaDB, compared code point by code point.

    Their default collations ignore case, and every ``_bin`` collation but
    the NO PAD ones ignores trailing spaces; the right collation depends on
    the server, so it is chosen when the DDL is compiled for one.
    """

    cache_ok = True


@compiles(_BinaryName, 'mysql')
@compiles(_BinaryName, 'mariadb')
def _compile_binary_name(type_: _BinaryName, compiler: Any, **kw: Any) -> str:
    dialect = compiler.dialect
    if dialect.is_mariadb:
        collation = 'utf8mb4_nopad_bin'
    elif (dialect.server_version_info or (0,)) >= (8,):
        collation = 'utf8mb4_0900_bin'
    else:  # MySQL 5.7 has no NO PAD collation: 'a' and 'a ' are one name there
        collation = 'utf8mb4_bin'
    return f'VARCHAR({type_.length}) CHARACTER SET utf8mb4 COLLATE {collation}'


# 'Invoice', 'invoice' and 'invoice ' are three different sequences, as they
# are on every other database.
_name_type = String(NAME_LENGTH).with_variant(_BinaryName(NAME_LENGTH), 'mysql', 'mariadb')

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

