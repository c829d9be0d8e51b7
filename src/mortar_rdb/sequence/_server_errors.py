"""What a database server or cluster reported: conflicts, lost connections, time
limits, read-only servers, cluster nodes that serve no queries, transactions in
doubt, native sequence changes kept waiting, nodes that repeat values.

Handed on, and documented, by :mod:`.errors`: import them from there.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import exc
from transaction.interfaces import TransientError

from ._error_bases import RETRY as _RETRY
from ._error_bases import AlsoTheDriversError as _AlsoTheDriversError
from ._error_bases import SequenceError
from ._error_bases import first_line as _first_line


class SequenceRetryable(_AlsoTheDriversError, SequenceError, TransientError, exc.OperationalError):
    """The transaction failed in a way that is safe to run again from the start.

    It is a :class:`transaction.interfaces.TransientError`, which is what
    :meth:`transaction.manager.attempts` and :meth:`transaction.manager.run`
    retry, and SQLAlchemy's ``OperationalError``, which the driver's error
    became in mortar_rdb 3.0. The database error is kept as :attr:`orig`.
    """

    def __init__(self, orig: BaseException, *more: object) -> None:
        Exception.__init__(self, orig, *more)
        self._keep(orig)


class SequenceConflict(SequenceRetryable):
    """Another transaction held or changed the sequence's row first.

    A lock wait that timed out, a deadlock, a serialization failure, or
    SQLite's "database is locked".
    """

    def __init__(
        self, orig: BaseException, advice: str = '', lock: str | None = None, in_doubt: tuple[Any, ...] = ()
    ) -> None:
        super().__init__(orig, advice, lock, in_doubt)
        self.advice = advice
        #: what was waited for until the wait ran out: ``'row'`` (a row or
        #: table lock) or ``'database'`` (SQLite, which locks the whole file);
        #: None when the transaction lost a deadlock or serialization race
        self.lock = lock
        #: transactions left in doubt that may hold the row, where the database
        #: cannot tell which rows they hold (MariaDB's XA RECOVER)
        self.in_doubt = in_doubt

    def __str__(self) -> str:
        if self.lock == 'database':
            # The writer may be using any table.
            return f'The database is locked by another writer ({_first_line(self.orig)}); {_RETRY}'
        if self.in_doubt:
            suspects = '; '.join(
                f'{_described(each)}, ended by {each.rollback} (or {each.commit})' for each in self.in_doubt
            )
            return (
                f'Another transaction was using the same sequence ({_first_line(self.orig)}); {_RETRY} '
                'If the lock is never released, one of these transactions left in doubt (prepared for two-phase '
                'commit, never ended; XA RECOVER lists them, without saying which rows they hold) may hold it: '
                f'{suspects}. "python -m mortar_rdb.sequence in-doubt --url URL" lists them too.'
            )
        return f'Another transaction was using the same sequence ({_first_line(self.orig)}); {_RETRY}{self.advice}'


class SequenceConnectionLost(SequenceRetryable):
    """The connection died before the transaction committed.

    The database rolled the transaction back when the connection ended, so
    nothing it did was kept; a new attempt gets a new connection.
    ``silent`` is true when the server stopped answering (a read timed out).
    """

    def __init__(self, orig: BaseException, silent: bool = False) -> None:
        super().__init__(orig, silent)
        self.silent = silent

    def __str__(self) -> str:
        return (
            f'The connection to the database was lost ({_first_line(self.orig)}); {_RETRY} '
            'Create the engine with pool_pre_ping=True so that connections the server '
            'closed while idle are replaced before use.'
        )


class SequenceStatementTimeout(_AlsoTheDriversError, SequenceError, exc.OperationalError):
    """The server stopped a statement that ran past its time limit
    (PostgreSQL's ``statement_timeout``, MariaDB's ``max_statement_time``)."""

    def __init__(self, where: str, orig: BaseException | None = None) -> None:
        Exception.__init__(self, where, orig)
        self.where = where
        self._keep(orig)

    def __str__(self) -> str:
        return (
            f'A statement on {self.where} ran past the time limit its server allows and was stopped '
            f'({_first_line(self.orig)}): roll the transaction back, then run it again or allow '
            "statements longer (PostgreSQL's statement_timeout, MariaDB's max_statement_time)."
        )


class SequenceServerReadOnly(_AlsoTheDriversError, SequenceError, exc.InternalError, exc.OperationalError):
    """The database server accepts no writes: a hot standby, or read-only transactions.

    Taking a value writes (even a native sequence's), so it can only be done
    on the primary. Running the transaction again on the same server cannot
    help, so this is not retried. It is also the SQLAlchemy error the driver
    raised (``InternalError`` from psycopg, ``OperationalError`` or
    ``InternalError`` from PyMySQL). The driver's error is :attr:`orig`.
    """

    def __init__(self, where: str, orig: BaseException | None = None) -> None:
        Exception.__init__(self, where, orig)
        self.where = where
        self._keep(orig)

    def __str__(self) -> str:
        return (
            f'The database server at {self.where} is read-only{self._said()}: it is a hot standby, or its '
            'transactions are read-only (default_transaction_read_only, read_only, or a READ ONLY '
            'transaction). Sequence values can only be taken, and sequences created, restarted or dropped, '
            "on the primary: point this session's engine (or its binds) at the primary server."
        )


class SequenceNodeNotReady(_AlsoTheDriversError, SequenceError, exc.OperationalError):
    """A Galera node refused the statement: it serves no queries now.

    A node outside the cluster's primary component (cut off from the
    majority of the nodes), still joining by state transfer, or set to
    refuse queries (``wsrep_reject_queries``) answers every query with
    MariaDB error 1047. Nothing was taken. Running the transaction again on
    the same node cannot help until the node is back in the cluster, so this
    is not retried. It is also the driver's ``OperationalError``, which
    mortar_rdb 3.0 raised; the driver's error is :attr:`orig`.
    """

    def __init__(self, where: str, orig: BaseException | None = None) -> None:
        Exception.__init__(self, where, orig)
        self.where = where
        self._keep(orig)

    def __str__(self) -> str:
        return (
            f'The Galera node at {self.where} serves no queries now{self._said()}: it is cut off from the majority '
            'of the cluster, still joining it, or set to refuse queries (wsrep_reject_queries). Nothing was '
            "taken. Point this session's engine at a node that serves queries (SHOW STATUS LIKE 'wsrep_ready' "
            'says ON there), or a load balancer that only sends to such nodes, and run the transaction again.'
        )


class SequenceInDoubt(_AlsoTheDriversError, SequenceError, exc.OperationalError):
    """A sequence's row is held by a transaction left in doubt: prepared, then never ended.

    A process that dies between the two phases of a two-phase commit leaves
    its prepared transaction, and its locks, on the server until an operator
    commits or rolls it back. Running the transaction again would only wait
    again, so this is not retried (unlike
    :class:`SequenceConflict`). ``transactions`` are those found, each with
    its ``id``, ``database``, ``seconds`` since it was prepared and
    ``sequences`` held (None where the database does not tell), and the
    ``commit`` and ``rollback`` statements that end it; the driver's
    lock-wait error is :attr:`orig`.
    """

    def __init__(self, where: str, transactions: tuple[Any, ...], orig: BaseException | None = None) -> None:
        Exception.__init__(self, where, transactions, orig)
        self.where = where
        self.transactions = transactions
        self._keep(orig)

    def __str__(self) -> str:
        described = '; '.join(_described(found) for found in self.transactions)
        first = self.transactions[0]
        return (
            f'A sequence in {self.where} is held by a transaction left in doubt '
            f'(prepared for two-phase commit, then never committed or rolled back): {described}. '
            'Running the transaction again will only wait again. End the transaction in doubt: '
            f'{first.commit} if the rest of its distributed transaction committed, else {first.rollback}; '
            'or "python -m mortar_rdb.sequence in-doubt --url URL" lists them and '
            '"... in-doubt rollback ID" ends one.'
        )


def _described(found: Any) -> str:
    facts = [f'id {found.id!r}']
    if found.database is not None:
        facts.append(f'database {found.database!r}')
    if found.seconds is not None:
        facts.append(f'prepared {found.seconds} seconds ago')
    if found.sequences:
        facts.append('holding ' + ', '.join(repr(name) for name in found.sequences))
    return ', '.join(facts)


class SequenceChangeBlocked(SequenceError):
    """Creating, restarting or dropping a native sequence waited too long for a lock.

    ``doing`` is ``'Creating'``, ``'Restarting'`` or ``'Dropping'``.
    ``in_doubt`` are the transactions left in doubt (prepared for two-phase
    commit, never ended) found holding the sequence, as in
    :class:`SequenceInDoubt`: on PostgreSQL, one that called ``nextval()``
    blocks restarting and dropping until an operator ends it.
    """

    def __init__(
        self, name: str, seconds: float, doing: str = 'Creating', in_doubt: tuple[Any, ...] = ()
    ) -> None:
        super().__init__(name, seconds, doing, in_doubt)
        self.name = name
        self.seconds = seconds
        self.doing = doing
        self.in_doubt = in_doubt

    def __str__(self) -> str:
        if self.in_doubt:
            first = self.in_doubt[0]
            return (
                f'{self.doing} the native sequence {self.name!r} waited {self.seconds:g}s for a lock held by a '
                'transaction left in doubt (prepared for two-phase commit, then never committed or rolled back): '
                f"{'; '.join(_described(each) for each in self.in_doubt)}. It holds the lock until it is ended: "
                f'{first.commit} if the rest of its distributed transaction committed, else {first.rollback} '
                '("python -m mortar_rdb.sequence in-doubt --url URL" lists them and "... in-doubt rollback ID" '
                'ends one); then try again.'
            )
        if self.doing == 'Creating':
            return (
                f'Creating the native sequence {self.name!r} waited {self.seconds:g}s for a lock held by '
                f'another transaction, perhaps your own session\'s if it used something called {self.name!r}: '
                'end that transaction (or create the sequence beforehand) and register again.'
            )
        return (
            f'{self.doing} the native sequence {self.name!r} waited {self.seconds:g}s for a lock held by a '
            'transaction that used it and has not ended, perhaps your own session\'s: end that '
            'transaction and try again.'
        )


class NotInDoubt(SequenceError, LookupError):
    """There is no transaction in doubt with this id in the database, so there is nothing to end."""

    def __init__(self, id: str, where: str) -> None:
        Exception.__init__(self, id, where)
        self.id = id
        self.where = where

    def __str__(self) -> str:
        return (
            f'There is no transaction in doubt (prepared, not yet committed or rolled back) with id {self.id!r} '
            f'in {self.where}, so nothing was changed: "in-doubt" lists those there are; it may have been '
            'ended already, or belong to another database.'
        )


class NativeSequenceRepeatsAcrossNodes(SequenceError):
    """An existing native sequence on a Galera node would hand out the same values on several nodes.

    Every node of a Galera cluster takes values from its own copy of the
    sequence; only ``INCREMENT BY 0`` makes each node take its own share
    (by its ``auto_increment_increment`` and ``auto_increment_offset``).
    """

    def __init__(self, name: str, increment: int, where: str) -> None:
        super().__init__(name, increment, where)
        self.name = name
        self.increment = increment
        self.where = where

    def __str__(self) -> str:
        quoted = '`' + self.name.replace('`', '``') + '`'
        return (
            f'The native sequence {self.name!r} in {self.where} counts INCREMENT BY {self.increment}, '
            'so the nodes of this Galera cluster would hand out the same values; it was not used. '
            f'Make each node take its own share with "ALTER SEQUENCE {quoted} INCREMENT BY 0" '
            '(values already handed out stay below the next ones), then register it again.'
        )


class GaleraOffsetsRenumbered(SequenceError):
    """A Galera cluster renumbers its nodes' offsets as nodes leave and join.

    A native sequence there is ``INCREMENT BY 0``: each node takes the
    values of its own ``auto_increment_offset``. With
    ``wsrep_auto_increment_control`` on (Galera's default), a node leaving or
    joining changes the offsets, and around the change two nodes can take
    the same value.
    """

    def __init__(self, name: str, where: str) -> None:
        super().__init__(name, where)
        self.name = name
        self.where = where

    def __str__(self) -> str:
        return (
            f'The native sequence {self.name!r} was not registered: {self.where} is a Galera node with '
            'wsrep_auto_increment_control on, which renumbers the nodes\' offsets whenever one leaves or '
            'joins, and around that change two nodes can hand out the same value. Give every node a fixed '
            'share in its configuration (wsrep_auto_increment_control = OFF, auto_increment_increment = '
            'the most nodes the cluster will have, auto_increment_offset = a number of its own from 1 to '
            'that), or use impl=mortar_rdb.sequence.pooled.SequenceImplementation, which needs neither.'
        )
