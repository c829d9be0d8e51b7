"""What the command line says when something goes wrong: one line, in the words of commands and flags.

The errors of :mod:`..errors` carry their facts (which sequence, which
database, what was waited for, what the database said) and say them to
Python callers in functions and arguments. :func:`explain` says the same
facts to someone at a shell, with the commands and flags that fix them. It
reads no driver code and takes no message apart: what an error *is* was
decided once, where it was made.
"""
from __future__ import annotations

import json
import shlex
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc

from .._dialects import Waits, timed_out, waits_for
from ..errors import (
    InvalidSequenceName,
    InvalidSequenceValue,
    NoNativeSequences,
    NoSuchSequence,
    NotASequence,
    NotInDoubt,
    SequenceChangeBlocked,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceError,
    SequenceInDoubt,
    SequenceNodeNotReady,
    SequenceOverflow,
    SequenceRestartRefused,
    SequenceServerReadOnly,
    SequenceStatementTimeout,
    SequenceTableMissing,
    SequenceValueUnset,
)
from .failures import DatabaseUnreachable, DriverMissing, NoDatabaseFile

__all__ = ['Context', 'argument', 'explain', 'shown_name']

DEFAULT_URL = 'sqlite:///sequences.db'
URL_FLAGS = '--url or $MORTAR_RDB_URL'


def _ignore(what: str | None) -> None:
    pass


@dataclass
class Context:
    """What the command was doing when it failed."""

    url: str
    command: str
    seconds: float
    name: str | None = None
    #: ' --impl native' for native sequences, else ''
    options: str = ''
    #: how to name what this database makes us wait for, once its backend is known
    waits: Waits = waits_for('')
    #: whether the command had connected to the database
    connected: bool = False
    #: whether ``next`` had written its values out
    delivered: bool = False
    #: says what the command now waits for (None: nothing, it is writing its output)
    waiting_for: Callable[[str | None], None] = _ignore

    @property
    def waited(self) -> str:
        return _seconds(self.seconds)

    @property
    def changes(self) -> str:
        return 'nothing was taken' if self.command == 'next' else 'nothing was changed'

    @property
    def locked(self) -> str:
        if self.name is None:
            return 'the sequences table'
        return f'sequence {self.name!r}'

    @property
    def create_it(self) -> str:
        """The command that creates what is missing, for the command that found it missing."""
        if self.command == 'next':
            return f'"next {argument(self.name or "")}{self.options} --create"'
        return '"create-table"'


_LINE_BREAKING = {'Cc', 'Zl', 'Zp'}


def _breaks_lines(name: str) -> bool:
    return any(unicodedata.category(character) in _LINE_BREAKING for character in name)


def shown_name(name: str) -> str:
    """``name`` as the command line prints it: as it is, or JSON-quoted when it
    would not stay on one line (a control character or a line separator) or
    starts with a double quote."""
    if name.startswith('"') or _breaks_lines(name):
        return json.dumps(name)
    return name


def argument(name: str) -> str:
    """``name`` as an argument of a suggested command: quoted for a POSIX shell, on one line."""
    return json.dumps(name) if _breaks_lines(name) else shlex.quote(name)


def one_line(text: object) -> str:
    """The first line of what a driver or SQLAlchemy said, without SQLAlchemy's link to its docs."""
    lines = [line.strip() for line in str(text).split('(Background on this error')[0].splitlines() if line.strip()]
    return lines[0] if lines else 'unknown error'


def explain(error: BaseException, context: Context) -> str:
    """One line that says what went wrong and what to do, for the command line."""
    for kind, say in _SAYINGS:
        if isinstance(error, kind):
            return say(error, context)
    return _database_error(error, context)


# The command line's own failures -------------------------------------------


def _no_database_file(error: Any, c: Context) -> str:
    create = 'create it and the sequence with' if c.command == 'next' else 'create it with'
    return (
        f'there is no database file {error.path!r} for {c.url}: check the URL ({URL_FLAGS}) '
        f'and the current directory, or {create} {c.create_it}'
    )


def _unreachable(error: Any, c: Context) -> str:
    if error.silent:
        return _silent_server(c)
    return f'could not connect to {c.url} ({error.reason}); check the URL ({URL_FLAGS}) and that {c.waits.reachable}'


def _driver_missing(error: Any, c: Context) -> str:
    install = f'install it with "{error.install}"' if error.install else 'install its package with pip'
    if error.given is None:
        return f'the database driver for {c.url} is not installed (no module named {error.module!r}); {install}'
    return (
        f'the command line needs a sync driver, so for {error.given}:// it uses {error.driver}, which is not '
        f'installed (no module named {error.module!r}): {install}, or pass a URL of another installed '
        f'sync driver of the same database with --url'
    )


# The library's errors ------------------------------------------------------


def _table_missing(error: Any, c: Context) -> str:
    create = 'the table and the sequence' if c.command == 'next' else 'the table'
    return f'there is no sequences table in {c.url}: check the URL ({URL_FLAGS}), or create {create} with {c.create_it}'


def _no_such_sequence(error: Any, c: Context) -> str:
    return (
        f'there is no sequence named {error.name!r} in {c.url}: check the name ("list{c.options}" '
        f'shows them) and the URL, or create it with "next {argument(error.name)}{c.options} --create"'
    )


def _overflow(error: Any, c: Context) -> str:
    upgrade = ' or widen the table with "upgrade-table"'
    if error.ceiling is None:
        return (
            f'the native sequence {error.name!r} has reached its largest value; {c.changes}: '
            'use a new sequence name from now on'
        )
    if error.left > 0:
        return (
            f'sequence {error.name!r} has only {error.left} values left before {error.ceiling}, the largest '
            f'its table holds, so {error.count} cannot be taken; {c.changes}: '
            f'take at most {error.left} with --count' + (upgrade if error.narrow else '')
        )
    fix = 'widen the table with "upgrade-table"' if error.narrow else 'use a new sequence name from now on'
    return f'sequence {error.name!r} has reached {error.ceiling}, the largest value its table holds; {c.changes}: {fix}'


def _restart_refused(error: Any, c: Context) -> str:
    return (
        f'sequence {error.name!r} has reached {error.current}; restarting it at {error.value} could hand out '
        'the same numbers again, so nothing was changed: add --force if those numbers are really free'
    )


def _conflict(error: Any, c: Context) -> str:
    if error.in_doubt:
        # The database cannot say whether they hold this row: the usual advice comes first.
        ids = ', '.join(repr(found.id) for found in error.in_doubt)
        return (
            f'another transaction held a lock on {c.locked} for {c.waited}; {c.changes}: '
            'run the command again when that transaction has ended, or wait longer with --timeout; '
            f'if it is never released, a transaction left in doubt may hold it ({ids}): "in-doubt" lists them, '
            '"in-doubt rollback ID" ends one'
        )
    if error.lock == 'database':
        return (
            f'the database {c.url} stayed locked by another writer for {c.waited}; {c.changes}: '
            'run the command again when that writer has finished, or wait longer with --timeout'
        )
    if error.lock is not None:
        return (
            f'another transaction held a lock on {c.locked} for {c.waited}; {c.changes}: '
            'run the command again when that transaction has ended, or wait longer with --timeout'
        )
    return f'another transaction changed {c.locked} at the same moment; {c.changes}: run the command again'


def _connection_lost(error: Any, c: Context) -> str:
    if error.silent:
        return _silent_server(c)
    return (
        f'the connection to {c.url} was lost ({one_line(error.orig)}); {c.changes}: '
        'check that the database server is up and run the command again'
    )


def _value_unset(error: Any, c: Context) -> str:
    return (
        f'the row of sequence {error.name!r} in the sequences table of {c.url} holds NULL (mortar_rdb 3.0 allowed '
        f'it), so its next value is unknown; {c.changes}: restart it at the first value not yet used with '
        f'"restart {argument(error.name)} VALUE --force"'
    )


def _statement_timeout(error: Any, c: Context) -> str:
    return (
        f'a statement on {c.url} ran for {c.waited} and was stopped; {c.changes}: '
        'run the command again, or allow longer with --timeout'
    )


def _no_native(error: Any, c: Context) -> str:
    return (
        f'{error.database} has no native sequences: leave out --impl native to use the sequences table, '
        'which works there'
    )


def _not_a_sequence(error: Any, c: Context) -> str:
    return (
        f'{c.url} already has a table, view or other object called {error.name!r}, so no native sequence '
        'can take that name: choose another name'
    )


def _seconds(seconds: float) -> str:
    return f'{seconds:g} second' + ('' if seconds == 1 else 's')


def _change_blocked(error: Any, c: Context) -> str:
    if error.in_doubt:
        ids = ', '.join(repr(found.id) for found in error.in_doubt)
        return (
            f'{error.doing.lower()} the native sequence {error.name!r} waited {_seconds(error.seconds)} for a lock '
            f'held by a transaction left in doubt (prepared, never committed or rolled back: {ids}); nothing was '
            'changed: "in-doubt" lists them, "in-doubt commit ID" or "in-doubt rollback ID" ends one, then run '
            'the command again'
        )
    return (
        f'{error.doing.lower()} the native sequence {error.name!r} waited {_seconds(error.seconds)} for a lock '
        'held by a transaction that used it: run the command again when that transaction has ended'
    )


def _refused(error: Any, c: Context) -> str:
    """A name or value refused; one a mortar_rdb 3.0 table cannot hold names the command that widens it."""
    if error.widened is None:
        return str(error.problem)
    return f'{error.problem} It is a mortar_rdb 3.0 table: "upgrade-table" widens it.'


def _read_only(error: Any, c: Context) -> str:
    return (
        f'the database server at {c.url} is read-only (a hot standby, or read-only transactions); {c.changes}: '
        'run the command against the primary server (--url)'
    )


def _node_not_ready(error: Any, c: Context) -> str:
    return (
        f'the Galera node at {c.url} serves no queries now (cut off from the rest of the cluster, still joining '
        f'it, or set to refuse queries); {c.changes}: run the command against a node that serves queries (--url)'
    )


def _in_doubt(error: Any, c: Context) -> str:
    ids = ', '.join(repr(found.id) for found in error.transactions)
    return (
        f'{c.locked} is held by a transaction left in doubt (prepared, never committed or rolled back: {ids}); '
        f'{c.changes}, and running the command again will only wait again: "in-doubt" lists them, '
        '"in-doubt commit ID" or "in-doubt rollback ID" ends one'
    )


def _not_in_doubt(error: Any, c: Context) -> str:
    return (
        f'there is no transaction in doubt with id {error.id!r} in {c.url}; nothing was changed: '
        '"in-doubt" lists those there are (it may have been ended already, or belong to another database)'
    )


def _sequence_error(error: Any, c: Context) -> str:
    return one_line(error)


_SAYINGS: list[tuple[type[BaseException] | tuple[type[BaseException], ...], Callable[[Any, Context], str]]] = [
    (NoDatabaseFile, _no_database_file),
    (DatabaseUnreachable, _unreachable),
    (DriverMissing, _driver_missing),
    (SequenceTableMissing, _table_missing),
    (NoSuchSequence, _no_such_sequence),
    (SequenceOverflow, _overflow),
    (SequenceRestartRefused, _restart_refused),
    (SequenceServerReadOnly, _read_only),
    (SequenceNodeNotReady, _node_not_ready),
    (SequenceInDoubt, _in_doubt),
    (NotInDoubt, _not_in_doubt),
    (SequenceConflict, _conflict),
    (SequenceConnectionLost, _connection_lost),
    (SequenceStatementTimeout, _statement_timeout),
    (SequenceValueUnset, _value_unset),
    (NoNativeSequences, _no_native),
    (NotASequence, _not_a_sequence),
    (SequenceChangeBlocked, _change_blocked),
    ((InvalidSequenceName, InvalidSequenceValue), _refused),
    (SequenceError, _sequence_error),
]


def _silent_server(c: Context) -> str:
    return (
        f'{c.waits.answering.format(url=c.url)} did not answer within {c.waited}; {c.changes}: check that it is up '
        f'and that the URL ({URL_FLAGS}) names it, or wait longer with --timeout'
    )


def _database_error(error: BaseException, c: Context) -> str:
    """What the library left as SQLAlchemy's error: SQLAlchemy's line, or the driver's."""
    if isinstance(error, exc.NoSuchModuleError):
        return f'{c.url!r} names no database SQLAlchemy knows ({one_line(error)}); check the part before "://"'
    if isinstance(error, exc.ArgumentError):
        return f'{c.url!r} is not a database URL ({one_line(error)}); pass one like {DEFAULT_URL} with --url'
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    if timed_out(orig):
        return _silent_server(c)
    return f'the database at {c.url} failed: {one_line(orig)}; {c.changes}: check the URL and that the database is up'
