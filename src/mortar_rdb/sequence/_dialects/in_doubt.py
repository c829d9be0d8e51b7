"""Transactions left in doubt: prepared for two-phase commit, then never committed or rolled back.

A process that dies between PREPARE and COMMIT leaves its transaction on
the server, holding its locks (a sequence's row among them) until someone
ends it. Each database lists and ends them its own way:

==========  ===================================================================
PostgreSQL  ``pg_prepared_xacts`` (id, database, age); the rows of the
            ``sequences`` table whose ``xmax`` is the transaction's id are the
            sequences it holds; ``COMMIT PREPARED`` / ``ROLLBACK PREPARED``, run
            in the same database
MariaDB     ``XA RECOVER`` (server-wide; it tells neither database, age nor
            rows); ``XA COMMIT`` / ``XA ROLLBACK``
==========  ===================================================================

Every statement here runs on a connection in autocommit mode: ending a
prepared transaction cannot be done inside another.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, text
from sqlalchemy.engine import Dialect

from .._table import sequences

__all__ = ['InDoubtSQL', 'PreparedTransaction', 'in_doubt_sql_for']


class PreparedTransaction(NamedTuple):
    """A transaction in doubt, as far as its database tells."""

    #: the id to give the command line (PostgreSQL's gid; MariaDB's XID)
    id: str
    #: the database it belongs to; None where the server does not say (MariaDB)
    database: str | None
    #: how long ago it was prepared, in whole seconds; None where unknown
    seconds: int | None
    #: the sequences whose rows it holds; None where the database cannot tell
    sequences: tuple[str, ...] | None
    #: the SQL that commits it
    commit: str
    #: the SQL that rolls it back
    rollback: str


def _autocommit(connection: Connection) -> Connection:
    if connection.get_execution_options().get('isolation_level') == 'AUTOCOMMIT':
        return connection  # setting it again once a statement has run is refused
    return connection.execution_options(isolation_level='AUTOCOMMIT')


class InDoubtSQL:
    """A database that cannot leave transactions in doubt (SQLite), or one we do not know."""

    supported = False
    #: what the database calls ending one, for messages
    commands = ''

    def listing(self, connection: Connection) -> list[PreparedTransaction]:
        """The transactions in doubt ``connection``'s database can see, oldest first where it tells."""
        return []

    def holding_sequences(self, connection: Connection) -> list[PreparedTransaction]:
        """Those of :meth:`listing` that hold (or, where the database cannot tell, may hold) a sequence's row."""
        return [found for found in self.listing(connection) if found.sequences is None or found.sequences]

    def holding_native(self, connection: Connection, name: str) -> list[PreparedTransaction]:
        """Those of :meth:`listing` that hold a lock on native sequence ``name``.

        None by default: MariaDB's ``NEXTVAL`` is not part of the transaction,
        so a prepared XA transaction holds no lock on the sequence.
        """
        return []

    def end(self, connection: Connection, transaction: PreparedTransaction, commit: bool) -> None:
        """Commit or roll back ``transaction``."""
        _autocommit(connection).exec_driver_sql(
            transaction.commit if commit else transaction.rollback, execution_options={'no_parameters': True}
        )


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PostgreSQLInDoubt(InDoubtSQL):
    supported = True
    commands = 'COMMIT PREPARED / ROLLBACK PREPARED'

    _list = text(
        'SELECT gid, database, floor(extract(epoch FROM now() - prepared))::bigint, transaction::text '
        'FROM pg_prepared_xacts WHERE database = current_database() ORDER BY prepared'
    )
    # A row a transaction updated or locked shows that transaction's id as its
    # xmax to everyone who still sees the row's previous version.
    _held = text(f'SELECT name FROM {sequences.name} WHERE xmax::text = :xid ORDER BY name')

    # A prepared transaction's locks have no pid; its transactionid lock,
    # under the same virtual transaction, ties them to pg_prepared_xacts.
    # nextval() takes a lock on the sequence that ALTER SEQUENCE and DROP
    # SEQUENCE wait for.
    _holding_relation = text(
        'SELECT DISTINCT p.gid FROM pg_locks r '
        'JOIN pg_locks t ON t.virtualtransaction = r.virtualtransaction '
        "AND t.locktype = 'transactionid' AND t.pid IS NULL "
        'JOIN pg_prepared_xacts p ON p.transaction = t.transactionid '
        "WHERE r.pid IS NULL AND r.locktype = 'relation' AND r.relation = to_regclass(quote_ident(:name)) "
        'AND r.database = (SELECT oid FROM pg_database WHERE datname = current_database())'
    )

    def holding_native(self, connection: Connection, name: str) -> list[PreparedTransaction]:
        connection = _autocommit(connection)
        gids = set(connection.execute(self._holding_relation, {'name': name}).scalars())
        return [found._replace(sequences=(name,)) for found in self.listing(connection) if found.id in gids]

    def listing(self, connection: Connection) -> list[PreparedTransaction]:
        connection = _autocommit(connection)
        rows = connection.execute(self._list).all()
        has_table = bool(rows) and connection.exec_driver_sql(
            f"SELECT to_regclass('{sequences.name}') IS NOT NULL", execution_options={'no_parameters': True}
        ).scalar()
        found = []
        for gid, database, seconds, xid in rows:
            held: tuple[str, ...] = ()
            if has_table:
                held = tuple(connection.execute(self._held, {'xid': xid}).scalars())
            commit, rollback = f'COMMIT PREPARED {_quoted(gid)}', f'ROLLBACK PREPARED {_quoted(gid)}'
            found.append(PreparedTransaction(gid, database, int(seconds), held, commit, rollback))
        return found


class MariaDBInDoubt(InDoubtSQL):
    supported = True
    commands = 'XA COMMIT / XA ROLLBACK'

    def listing(self, connection: Connection) -> list[PreparedTransaction]:
        rows = _autocommit(connection).exec_driver_sql('XA RECOVER', execution_options={'no_parameters': True}).all()
        found = []
        for format_id, gtrid_length, bqual_length, data in rows:
            raw = data if isinstance(data, bytes) else str(data).encode('utf-8', 'surrogateescape')
            gtrid, bqual = raw[:gtrid_length], raw[gtrid_length : gtrid_length + bqual_length]
            xid = f"X'{gtrid.hex()}',X'{bqual.hex()}',{int(format_id)}"
            shown = _plain(gtrid) if not bqual and int(format_id) == 1 else None
            found.append(PreparedTransaction(shown or xid, None, None, None, f'XA COMMIT {xid}', f'XA ROLLBACK {xid}'))
        return found


def _plain(gtrid: bytes) -> str | None:
    """The XID as the application wrote it, when it is printable text."""
    try:
        decoded = gtrid.decode('utf-8')
    except UnicodeDecodeError:
        return None
    return decoded if decoded.isprintable() and "'" not in decoded else None


_BY_DIALECT = {'postgresql': PostgreSQLInDoubt, 'mysql': MariaDBInDoubt, 'mariadb': MariaDBInDoubt}


def in_doubt_sql_for(dialect: Dialect) -> InDoubtSQL:
    return _BY_DIALECT.get(dialect.name, InDoubtSQL)()
