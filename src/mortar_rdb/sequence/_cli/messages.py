"""What the command line says when something goes wrong: one line, in the words of commands and flags.

The errors of :mod:`.errors` are written for Python callers (functions and
arguments). :func:`explain` says the same facts to someone at a shell, with
the commands and flags that fix them.
"""
from __future__ import annotations

import json
import shlex
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exc

from .._dialects import Meaning, codes_for, meaning
from ..errors import (
    InvalidSequenceName,
    InvalidSequenceValue,
    NoNativeSequences,
    NoSuchSequence,
    NotASequence,
    SequenceChangeBlocked,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceError,
    SequenceInDoubt,
    SequenceOverflow,
    SequenceRestartRefused,
    SequenceServerReadOnly,
    SequenceTableMissing,
)

__all__ = ['Context', 'argument', 'explain', 'shown_name']

DEFAULT_URL = 'sqlite:///sequences.db'


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
    #: the database backend's name ('sqlite', 'postgresql', 'mysql'), once known
    backend: str = ''
    #: whether the command had connected to the database
    connected: bool = False
    #: whether ``next`` had written its values out
    delivered: bool = False
    #: says what the command now waits for (None: nothing, it is writing its output)
    waiting_for: Callable[[str | None], None] = _ignore

    @property
    def waited(self) -> str:
        return f'{self.seconds:g} second' + ('' if self.seconds == 1 else 's')

    @property
    def changes(self) -> str:
        return 'nothing was taken' if self.command == 'next' else 'nothing was changed'

    @property
    def locked(self) -> str:
        if self.name is None:
            return 'the sequences table'
        return f'sequence {self.name!r}'


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
    lines = [line.strip() for line in str(text).split('(Background on this error')[0].splitlines() if line.strip()]
    return lines[0] if lines else 'unknown error'


def explain(error: BaseException, context: Context) -> str:
    """One line that says what went wrong and what to do, for the command line."""
    for kind, say in _SAYINGS:
        if isinstance(error, kind):
            return say(error, context)
    return _database_error(error, context)


def _table_missing(error: BaseException, c: Context) -> str:
    if c.command == 'next':
        fix = f'or create the table and the sequence with "next {argument(c.name or "")}{c.options} --create"'
    else:
        fix = 'or create the table with "create-table"'
    return f'there is no sequences table in {c.url}: check the URL (--url or $MORTAR_RDB_URL), {fix}'


def _no_such_sequence(error: BaseException, c: Context) -> str:
    assert isinstance(error, NoSuchSequence)
    return (
        f'there is no sequence named {error.name!r} in {c.url}: check the name ("list{c.options}" '
        f'shows them) and the URL, or create it with "next {argument(error.name)}{c.options} --create"'
    )


def _overflow(error: BaseException, c: Context) -> str:
    assert isinstance(error, SequenceOverflow)
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
    fix = upgrade.strip().removeprefix('or ') if error.narrow else 'use a new sequence name from now on'
    return (
        f'sequence {error.name!r} has reached {error.ceiling}, the largest value its table holds; '
        f'{c.changes}: {fix}'
    )


def _restart_refused(error: BaseException, c: Context) -> str:
    assert isinstance(error, SequenceRestartRefused)
    return (
        f'sequence {error.name!r} has reached {error.current}; restarting it at {error.value} could hand out '
        'the same numbers again, so nothing was changed: add --force if those numbers are really free'
    )


def _conflict(error: BaseException, c: Context) -> str:
    assert isinstance(error, SequenceConflict)
    what, _ = meaning(codes_for(c.backend), error.orig)
    if c.backend == 'sqlite':
        return (
            f'the database {c.url} stayed locked by another writer for {c.waited}; {c.changes}: '
            'run the command again when that writer has finished, or wait longer with --timeout'
        )
    if what is Meaning.LOCK_WAIT:
        return (
            f'another transaction held a lock on {c.locked} for {c.waited}; {c.changes}: '
            'run the command again when that transaction has ended, or wait longer with --timeout'
        )
    return f'another transaction changed {c.locked} at the same moment; {c.changes}: run the command again'


def _connection_lost(error: BaseException, c: Context) -> str:
    assert isinstance(error, SequenceConnectionLost)
    if _timed_out(error.orig):
        return _silent_server(c)
    return (
        f'the connection to {c.url} was lost ({one_line(error.orig)}); {c.changes}: '
        'check that the database server is up and run the command again'
    )


def _no_native(error: BaseException, c: Context) -> str:
    assert isinstance(error, NoNativeSequences)
    return (
        f'{error.database} has no native sequences: leave out --impl native to use the sequences table, '
        'which works there'
    )


def _not_a_sequence(error: BaseException, c: Context) -> str:
    assert isinstance(error, NotASequence)
    return (
        f'{c.url} already has a table, view or other object called {error.name!r}, so no native sequence '
        'can take that name: choose another name'
    )


def _change_blocked(error: BaseException, c: Context) -> str:
    assert isinstance(error, SequenceChangeBlocked)
    return (
        f'{error.doing.lower()} the native sequence {error.name!r} waited {error.seconds} seconds for a lock '
        'held by a transaction that used it: run the command again when that transaction has ended'
    )


def _outgrown(error: BaseException, c: Context) -> str:
    """A name or value a mortar_rdb 3.0 table cannot hold: name the command that widens it."""
    text = one_line(error)
    upgrade = text.find(' It is a mortar_rdb 3.0 table')
    if upgrade >= 0:
        text = text[:upgrade] + ' It is a mortar_rdb 3.0 table: "upgrade-table" widens it.'
    return text


def _read_only(error: BaseException, c: Context) -> str:
    return (
        f'the database server at {c.url} is read-only (a hot standby, or read-only transactions); {c.changes}: '
        'run the command against the primary server (--url)'
    )


def _in_doubt(error: BaseException, c: Context) -> str:
    assert isinstance(error, SequenceInDoubt)
    ids = ', '.join(repr(found.id) for found in error.transactions)
    return (
        f'{c.locked} is held by a transaction left in doubt (prepared, never committed or rolled back: {ids}); '
        f'{c.changes}, and running the command again will only wait again: "in-doubt" lists them, '
        '"in-doubt commit ID" or "in-doubt rollback ID" ends one'
    )


def _sequence_error(error: BaseException, c: Context) -> str:
    return one_line(error)


_SAYINGS = [
    (SequenceTableMissing, _table_missing),
    (NoSuchSequence, _no_such_sequence),
    (SequenceOverflow, _overflow),
    (SequenceRestartRefused, _restart_refused),
    (SequenceServerReadOnly, _read_only),
    (SequenceInDoubt, _in_doubt),
    (SequenceConflict, _conflict),
    (SequenceConnectionLost, _connection_lost),
    (NoNativeSequences, _no_native),
    (NotASequence, _not_a_sequence),
    (SequenceChangeBlocked, _change_blocked),
    (InvalidSequenceName, _outgrown),
    (InvalidSequenceValue, _outgrown),
    (SequenceError, _sequence_error),
]


def _timed_out(error: object) -> bool:
    text = str(error).lower()
    return 'timed out' in text or 'timeout expired' in text


def _silent_server(c: Context) -> str:
    return (
        f'the database server at {c.url} did not answer within {c.waited}; {c.changes}: check that it is up '
        'and that the URL (--url or $MORTAR_RDB_URL) names it, or wait longer with --timeout'
    )


#: Driver errors that say a statement ran out of time: PostgreSQL's
#: query_canceled, MariaDB's ER_STATEMENT_TIMEOUT, MySQL's ER_QUERY_TIMEOUT.
_STATEMENT_TIMEOUTS = {'57014', 1969, 3024}


def _database_error(error: BaseException, c: Context) -> str:
    if isinstance(error, exc.NoSuchModuleError):
        return f'{c.url!r} names no database SQLAlchemy knows ({one_line(error)}); check the part before "://"'
    if isinstance(error, exc.ArgumentError):
        return f'{c.url!r} is not a database URL ({one_line(error)}); pass one like {DEFAULT_URL} with --url'
    if isinstance(error, ImportError):
        return (
            f'the database driver for {c.url} is not installed ({error}); install it, '
            'for instance with pip install "mortar_rdb[postgresql]" or "mortar_rdb[mysql]"'
        )
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    if not c.connected:
        if _timed_out(orig):
            return _silent_server(c)
        where = 'its directory exists' if c.backend == 'sqlite' else 'the database server is up'
        return (
            f'could not connect to {c.url} ({one_line(orig)}); '
            f'check the URL (--url or $MORTAR_RDB_URL) and that {where}'
        )
    codes = codes_for(c.backend)
    if meaning(codes, orig)[0] is Meaning.LOCK_WAIT:  # creating or upgrading the table
        return (
            f'another transaction held a lock on the sequences table for {c.waited}; {c.changes}: '
            'run the command again when that transaction has ended, or wait longer with --timeout'
        )
    if codes.read(orig) in _STATEMENT_TIMEOUTS:
        return (
            f'a statement on {c.url} ran for {c.waited} and was stopped; {c.changes}: '
            'run the command again, or allow longer with --timeout'
        )
    if _timed_out(orig):
        return _silent_server(c)
    return f'the database at {c.url} failed: {one_line(orig)}; {c.changes}: check the URL and that the database is up'

