"""What each database's driver errors mean: one table per database, read by :func:`meaning`.

The tables only say what an error *is*. What it becomes depends on what was
being done, and is decided in one place, :class:`mortar_rdb.sequence._cursor.PerEngine`
(``translated`` for statements in the caller's transaction,
``translated_change`` for native DDL on a connection of its own):

=====================  ======================================================
meaning                becomes
=====================  ======================================================
``NO_SUCH_TABLE``      ``SequenceTableMissing`` for the ``sequences`` table;
                       ``NativeSequenceMissing`` for a native sequence (a
                       sequence is a relation on PostgreSQL, a table on MariaDB)
``NO_SUCH_SEQUENCE``   ``NativeSequenceMissing``
``LOCK_WAIT``          ``SequenceConflict`` (retried by ``transaction``); when
                       creating, restarting or dropping a native sequence,
                       ``SequenceCreationBlocked`` or ``SequenceChangeBlocked``
``CONFLICT``           ``SequenceConflict`` (retried by ``transaction``)
``ALREADY_EXISTS``     creating a native sequence looks again: another
                       connection created it at the same moment
``EXHAUSTED``          ``NativeSequenceExhausted``
``STATEMENT_TIMEOUT``  ``SequenceStatementTimeout`` (the server stopped a
                       statement that ran past its time limit)
``READ_ONLY``          ``SequenceServerReadOnly`` (a hot standby, or read-only
                       transactions): values are taken on the primary
``NODE_NOT_READY``     ``SequenceNodeNotReady`` (a Galera node outside the
                       cluster's primary component, still joining, or
                       refusing queries): values are taken on another node
=====================  ======================================================

A ``LOCK_WAIT`` on a database where transactions can be left in doubt
(prepared for two-phase commit, never ended) is looked into further
(:mod:`.in_doubt` finds them): if such a transaction holds the row, it
becomes ``SequenceInDoubt``; where the database cannot tell which rows they
hold (MariaDB), the ``SequenceConflict`` names them.

Any error the server reports as a lost connection becomes
``SequenceConnectionLost`` (retried by ``transaction``), whatever its code;
:func:`timed_out` says whether it was the server that stopped answering.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

__all__ = ['Codes', 'Meaning', 'codes_for', 'meaning', 'timed_out']


class Meaning(Enum):
    NO_SUCH_TABLE = 'no such table'
    NO_SUCH_SEQUENCE = 'no such sequence'
    #: A lock was waited for too long. Nothing was changed by the statement.
    LOCK_WAIT = 'lock wait timed out'
    #: A deadlock or a serialization failure: another transaction won.
    CONFLICT = 'conflict'
    ALREADY_EXISTS = 'already exists'
    EXHAUSTED = 'sequence exhausted'
    #: The server stopped a statement that ran longer than its time limit.
    STATEMENT_TIMEOUT = 'statement timed out'
    #: The server or the transaction accepts no writes: a hot standby, or read-only transactions.
    READ_ONLY = 'read-only'
    #: A cluster node that serves no queries now: a Galera node outside the primary component.
    NODE_NOT_READY = 'node not ready'


(
    NO_SUCH_TABLE,
    NO_SUCH_SEQUENCE,
    LOCK_WAIT,
    CONFLICT,
    ALREADY_EXISTS,
    EXHAUSTED,
    STATEMENT_TIMEOUT,
    READ_ONLY,
    NODE_NOT_READY,
) = Meaning


# The tables ----------------------------------------------------------------

#: PostgreSQL, by SQLSTATE.
POSTGRESQL: Mapping[object, Meaning] = {
    '42P01': NO_SUCH_TABLE,  # undefined_table (a sequence is a relation too)
    '55P03': LOCK_WAIT,  # lock_not_available: lock_timeout ran out
    '40001': CONFLICT,  # serialization_failure
    '40P01': CONFLICT,  # deadlock_detected
    '42P07': ALREADY_EXISTS,  # duplicate_table
    '23505': ALREADY_EXISTS,  # unique_violation: two CREATEs raced on the catalog
    '2200H': EXHAUSTED,  # sequence_generator_limit_exceeded
    '57014': STATEMENT_TIMEOUT,  # query_canceled: statement_timeout ran out
    # read_only_sql_transaction: a hot standby, default_transaction_read_only,
    # or a READ ONLY transaction (also nextval() and DDL on a standby)
    '25006': READ_ONLY,
}

#: MariaDB and MySQL, by error number.
MARIADB: Mapping[object, Meaning] = {
    1146: NO_SUCH_TABLE,  # ER_NO_SUCH_TABLE (a sequence is a table too)
    4091: NO_SUCH_SEQUENCE,  # ER_UNKNOWN_SEQUENCES
    1205: LOCK_WAIT,  # ER_LOCK_WAIT_TIMEOUT
    1213: CONFLICT,  # ER_LOCK_DEADLOCK
    1050: ALREADY_EXISTS,  # ER_TABLE_EXISTS_ERROR
    4084: EXHAUSTED,  # ER_SEQUENCE_RUN_OUT
    1969: STATEMENT_TIMEOUT,  # ER_STATEMENT_TIMEOUT (MariaDB's max_statement_time)
    3024: STATEMENT_TIMEOUT,  # ER_QUERY_TIMEOUT (MySQL's max_execution_time)
    1792: READ_ONLY,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    1290: READ_ONLY,  # ER_OPTION_PREVENTS_STATEMENT: the server runs with --read-only
    # ER_UNKNOWN_COM_ERROR, which a Galera node gives every query while it is
    # outside the primary component, joining, or set to wsrep_reject_queries:
    # "WSREP has not yet prepared node for application use"
    1047: NODE_NOT_READY,
}

#: SQLite, by primary result code or, where that is SQLITE_ERROR, message.
SQLITE: Mapping[object, Meaning] = {
    'no such table': NO_SUCH_TABLE,
    # "database is locked": the busy timeout ran out, or SQLite refused to
    # wait because waiting could deadlock; the statement changed nothing.
    'SQLITE_BUSY': LOCK_WAIT,
}

#: Oracle, by ORA- number.
ORACLE: Mapping[object, Meaning] = {
    2289: NO_SUCH_SEQUENCE,  # sequence does not exist
    54: LOCK_WAIT,  # resource busy and acquire with NOWAIT specified or timeout expired
    955: ALREADY_EXISTS,  # name is already used by an existing object
    8004: EXHAUSTED,  # sequence exceeds MAXVALUE
}

#: SQL Server, by the number in brackets in the message.
MSSQL: Mapping[object, Meaning] = {
    208: NO_SUCH_SEQUENCE,  # invalid object name
    1222: LOCK_WAIT,  # lock request time out period exceeded
    2714: ALREADY_EXISTS,  # there is already an object named ...
    11728: EXHAUSTED,  # the sequence object has reached its minimum or maximum value
}

#: Advice added to a ``SequenceConflict``'s message, by database and code.
MARIADB_ADVICE: Mapping[object, str] = {
    # Since MariaDB 10.5 a prepared XA transaction outlives its client.
    1205: (
        ' If the lock is never released, a two-phase (XA) transaction whose process died '
        'after XA PREPARE may hold it: list those with XA RECOVER and end each one with '
        "XA ROLLBACK 'xid' (or XA COMMIT 'xid' if the rest of it committed)."
    ),
}


# Reading a code out of a driver error --------------------------------------


def sqlstate(error: object) -> object:
    """psycopg's ``sqlstate``, psycopg2's ``pgcode``."""
    return getattr(error, 'sqlstate', None) or getattr(error, 'pgcode', None)


def first_argument(error: object) -> object:
    """The number PyMySQL, mysqlclient and the Oracle drivers put first."""
    arguments = getattr(error, 'args', None) or (None,)
    return getattr(arguments[0], 'code', arguments[0])


_SQLITE_BUSY = 5


def sqlite_code(error: object) -> object:
    # sqlite_errorcode is new in Python 3.11; the message is the same everywhere.
    code = getattr(error, 'sqlite_errorcode', None)
    if code is not None and code & 0xFF == _SQLITE_BUSY:
        return 'SQLITE_BUSY'
    text = str(error)
    if code is None and 'database is locked' in text:
        return 'SQLITE_BUSY'
    if 'no such table' in text:
        return 'no such table'
    return code


_BRACKETED = re.compile(r'\((\d+)\)')


def bracketed_number(error: object) -> object:
    """SQL Server drivers put the error number in brackets in the message, among others."""
    numbers = [int(number) for number in _BRACKETED.findall(str(error))]
    return next((number for number in numbers if number in MSSQL), None)


@dataclass(frozen=True)
class Codes:
    """One database's table, and how to read the code out of its driver's errors."""

    read: Callable[[object], object]
    meanings: Mapping[object, Meaning]
    advice: Mapping[object, str] = field(default_factory=dict)
    #: what a LOCK_WAIT waited for: ``'row'`` on servers, which lock rows and
    #: tables; ``'database'`` on SQLite, which locks the whole file
    locks: str = 'row'


NO_CODES = Codes(lambda error: None, {})

_BY_DIALECT = {
    'postgresql': Codes(sqlstate, POSTGRESQL),
    'mysql': Codes(first_argument, MARIADB, MARIADB_ADVICE),
    'mariadb': Codes(first_argument, MARIADB, MARIADB_ADVICE),
    'sqlite': Codes(sqlite_code, SQLITE, locks='database'),
    'oracle': Codes(first_argument, ORACLE),
    'mssql': Codes(bracketed_number, MSSQL),
}


def codes_for(dialect_name: str) -> Codes:
    return _BY_DIALECT.get(dialect_name, NO_CODES)


def timed_out(error: object) -> bool:
    """Whether a driver error says the server did not answer in time
    (PyMySQL's "timed out", psycopg's "timeout expired"), when connecting or
    in the middle of a statement; the drivers give these no code."""
    text = str(error).lower()
    return 'timed out' in text or 'timeout expired' in text


def meaning(codes: Codes, error: object) -> tuple[Meaning | None, str]:
    """What driver error ``error`` means on this database, and advice to add to its message."""
    if error is None:
        return None, ''
    code = codes.read(error)
    return codes.meanings.get(code), codes.advice.get(code, '')
