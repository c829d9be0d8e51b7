"""Upgrading a mortar_rdb 3.0 ``sequences`` table, one class per database.

3.0 made ``name VARCHAR(20)`` and a 32-bit, nullable ``current``. The
upgrades run on a SQLAlchemy connection, in its transaction.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Connection, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateTable

from .._table import NAME_LENGTH, sequences
from ..errors import SequenceTableNotUpgradable

__all__ = ['Difference', 'TableUpgrade', 'upgrade_for']


class Difference(str):
    """How the table differs from the current shape (the text, for before an
    upgrade), and ``upgraded``: what upgrading made of it."""

    upgraded: str

    def __new__(cls, differs: str, upgraded: str = '') -> Difference:
        difference = super().__new__(cls, differs)
        difference.upgraded = upgraded or differs
        return difference


class TableUpgrade:
    """How the table differs from the current shape, and the DDL that fixes it; this base cannot alter."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def outdated(self, connection: Connection) -> list[Difference]:
        """How the existing sequences table differs from the current shape."""
        columns = {column['name'].lower(): column for column in inspect(connection).get_columns(sequences.name)}
        differences = []
        name, current = columns.get('name'), columns.get('current')
        if name is None or current is None:
            raise SequenceTableNotUpgradable(
                'The sequences table has no name or no current column, so it was not made by '
                'mortar_rdb; rename it, then create a new one with create-table.'
            )
        length = getattr(name['type'], 'length', None)
        if length is not None and length < NAME_LENGTH:
            differences.append(
                Difference(
                    f'names hold {length} characters, not {NAME_LENGTH}',
                    f'names now hold up to {NAME_LENGTH} characters (were {length})',
                )
            )
        if not isinstance(current['type'], BigInteger):
            was = self.type_name(current['type'])
            differences.append(Difference(f'current is {was}, not 64-bit', f'current is now 64-bit (was {was})'))
        if current['nullable']:
            differences.append(Difference('current accepts NULL', 'current no longer accepts NULL'))
        return differences

    def type_name(self, column_type: object) -> str:
        """A column type as this database writes it (``INTEGER``), not as Python shows it."""
        try:
            return str(column_type.compile(dialect=self.dialect))  # type: ignore[attr-defined]
        except Exception:  # a type this dialect cannot compile: its class is name enough
            return type(column_type).__name__

    def quote(self, identifier: str) -> str:
        return str(self.dialect.identifier_preparer.quote(identifier))

    def column_ddl(self, column_name: str) -> str:
        """The type of ``column_name`` as the current table declares it."""
        return str(sequences.c[column_name].type.compile(dialect=self.dialect))

    def upgrade(self, connection: Connection) -> None:
        """Alter the sequences table to the current shape, keeping every row."""
        raise SequenceTableNotUpgradable(
            f'mortar_rdb cannot upgrade a sequences table on {self.dialect.name}; alter it by '
            f'hand to name {self.column_ddl("name")} and current BIGINT NOT NULL.'
        )


class PostgreSQL(TableUpgrade):
    def upgrade(self, connection: Connection) -> None:
        # Transactional DDL: all or nothing, with the caller's transaction.
        table, name, current = (self.quote(n) for n in (sequences.name, 'name', 'current'))
        connection.exec_driver_sql(
            f'ALTER TABLE {table} ALTER COLUMN {name} TYPE {self.column_ddl("name")}, '
            f'ALTER COLUMN {current} TYPE {self.column_ddl("current")}, '
            f'ALTER COLUMN {current} SET NOT NULL'
        )


class SQLite(TableUpgrade):
    def upgrade(self, connection: Connection) -> None:
        # SQLite cannot alter a column: rename the old table, create the new
        # one and copy the rows across. DDL is transactional in SQLite, but the
        # sqlite3 module only opens a transaction before DML, so open one
        # ourselves for the four statements to be all or nothing.
        if not connection.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql('BEGIN')
        table, old = self.quote(sequences.name), self.quote(sequences.name + '_mortar_rdb_3')
        name, current = self.quote('name'), self.quote('current')
        connection.exec_driver_sql(f'ALTER TABLE {table} RENAME TO {old}')
        connection.exec_driver_sql(str(CreateTable(sequences).compile(dialect=self.dialect)))
        connection.exec_driver_sql(f'INSERT INTO {table} ({name}, {current}) SELECT {name}, {current} FROM {old}')
        connection.exec_driver_sql(f'DROP TABLE {old}')


class MySQL(TableUpgrade):
    def _name_collation(self) -> str | None:
        return getattr(sequences.c.name.type.dialect_impl(self.dialect), 'collation', None)

    def outdated(self, connection: Connection) -> list[Difference]:
        differences = super().outdated(connection)
        # Reflection leaves out a collation that is the table's default.
        collation = connection.exec_driver_sql(
            'SELECT collation_name FROM information_schema.columns '
            'WHERE table_schema = DATABASE() AND table_name = %s AND column_name = %s',
            (sequences.name, 'name'),
        ).scalar()
        wanted = self._name_collation()
        if wanted is not None and collation != wanted:
            differences.append(
                Difference(
                    f'names compare with {collation}, not {wanted}',
                    f'names now compare with {wanted} (were {collation})',
                )
            )
        return differences

    def upgrade(self, connection: Connection) -> None:
        # One ALTER TABLE: the server applies it whole or not at all (and
        # commits the transaction around it, as it does for any DDL).
        table, name, current = (self.quote(n) for n in (sequences.name, 'name', 'current'))
        connection.exec_driver_sql(
            f'ALTER TABLE {table} MODIFY {name} {self.column_ddl("name")} NOT NULL, '
            f'MODIFY {current} {self.column_ddl("current")} NOT NULL'
        )


_BY_DIALECT: dict[str, type[TableUpgrade]] = {
    'postgresql': PostgreSQL,
    'sqlite': SQLite,
    'mysql': MySQL,
    'mariadb': MySQL,
}


def upgrade_for(dialect: Dialect) -> TableUpgrade:
    """How to upgrade the sequences table on ``dialect``."""
    return _BY_DIALECT.get(dialect.name, TableUpgrade)(dialect)
