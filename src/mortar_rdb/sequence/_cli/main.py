"""The command line: ``python -m mortar_rdb.sequence`` or ``mortar-sequence``.

What it promises (docs/commandline.rst says the same to its users):

- ``next`` writes the values out before it commits, and rolls back if
  writing fails, so a generic sequence spends no number nobody saw; with
  standard output closed, no command touches the database.
- ``next`` creates a missing table or sequence only with ``--create``;
  ``current`` and ``list`` never create anything, not even a SQLite file.
- ``--timeout`` bounds connecting, each statement and each lock wait; Ctrl-C
  rolls back and exits with status 130.
- Exit status 0 on success, 1 for a refused or failed operation, 2 for a
  command line that is not right (an unknown command or flag, a value no
  sequence can take); every failure is one line on stderr, never a traceback.

This module runs a parsed command (:mod:`.arguments`) of :mod:`.commands`
and says what went wrong through :mod:`.messages`.
"""
from __future__ import annotations

import argparse
import errno
import os
from collections.abc import Sequence

from sqlalchemy import Engine, exc, make_url

from .._dialects import bounded_engine, timed_out, waits_for
from .._dialects.drivers import install_advice, sync_twin
from .._dialects.waits import database_file
from .._per_engine import per_engine
from ..errors import SequenceError, SequenceNodeNotReady
from . import terminal
from .arguments import parser
from .failures import CommandFailure, DatabaseUnreachable, DriverMissing, NoDatabaseFile
from .messages import Context, explain, one_line

__all__ = ['main']

INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    terminal.fill_closed_descriptors()
    try:
        return _run(parser().parse_args(argv))
    except KeyboardInterrupt:  # before the command began: nothing to roll back
        terminal.say('interrupted; nothing was committed')
        return INTERRUPTED


def _creates(arguments: argparse.Namespace) -> bool:
    return arguments.command == 'create-table' or (arguments.command == 'next' and arguments.create)


def _refuse_a_missing_database_file(arguments: argparse.Namespace, context: Context) -> None:
    """Commands that create nothing must not leave an empty database file (SQLite) behind either."""
    database = database_file(arguments.url)
    if database is None or _creates(arguments) or os.path.exists(database):
        return
    raise NoDatabaseFile(os.path.abspath(database), context.url)


def _engine(arguments: argparse.Namespace, context: Context) -> Engine:
    """A bounded engine for the URL; for an async driver's URL, through the same database's sync driver."""
    url = make_url(arguments.url)
    given = None
    twin = sync_twin(url)
    if twin is not None:
        given, url = url.drivername, twin[0]
    try:
        return bounded_engine(url, arguments.timeout)
    except ImportError as error:
        module = error.name or one_line(error)
        raise DriverMissing(context.url, module, install_advice(url), url.drivername, given) from error


def _connect(engine: Engine, context: Context) -> None:
    try:
        engine.connect().close()  # back to the pool, for the command to use
    except exc.DBAPIError as error:
        ours = per_engine(engine).translated(error)
        if isinstance(ours, SequenceNodeNotReady):  # reached, but it serves no queries
            raise ours from error
        raise DatabaseUnreachable(context.url, one_line(error.orig), timed_out(error.orig)) from error
    context.connected = True


def _ours(error: Exception, engine: Engine | None) -> Exception:
    """The error as the library's one translation place makes it ours, where it can."""
    if engine is None or isinstance(error, SequenceError) or not isinstance(error, exc.StatementError):
        return error
    return per_engine(engine).translated(error)


def _write_failed(error: OSError, arguments: argparse.Namespace, context: Context) -> int:
    closed = isinstance(error, BrokenPipeError) or error.errno == errno.EPIPE
    if closed:
        terminal.silence_stdout()
    if arguments.command != 'next':
        if not closed:
            terminal.say(f'could not write the output ({error.strerror or error})')
        return 1
    if arguments.impl == 'native':
        lost = 'native sequences cannot give values back, so those values are spent'
    else:
        lost = 'none were taken'
    if closed:
        terminal.say(f'the output was closed before the values were written; {lost}')
    else:
        terminal.say(f'could not write the values ({error.strerror or error}); {lost}')
    return 1


def _run(arguments: argparse.Namespace) -> int:
    context = Context(
        url=arguments.url,
        command=arguments.command,
        seconds=arguments.timeout,
        name=getattr(arguments, 'name', None),
        options=' --impl native' if getattr(arguments, 'impl', 'generic') == 'native' else '',
    )
    if not terminal.stdout_open():
        what = 'nothing was taken' if arguments.command == 'next' else 'nothing was done'
        terminal.say(
            f'standard output is closed, so nobody would see what {arguments.command} prints; {what}: '
            'redirect it to a file, or to /dev/null if the output is not wanted'
        )
        return 1
    notice = terminal.Notice(arguments.timeout)
    context.waiting_for = notice.waiting_for
    engine: Engine | None = None
    try:
        context.url = make_url(arguments.url).render_as_string(hide_password=True)
        _refuse_a_missing_database_file(arguments, context)
        engine = _engine(arguments, context)
        context.waits = waits = waits_for(engine.dialect.name)
        notice.waiting_for(waits.connecting.format(url=context.url))
        _connect(engine, context)
        notice.waiting_for(waits.statement.format(url=context.url, locked=context.locked))
        arguments.run(engine, arguments, context)
    except KeyboardInterrupt:
        with terminal.sigint_ignored():
            notice.stop()
            terminal.say('interrupted; nothing was committed')
        return INTERRUPTED
    except terminal.WriteFailed as failure:
        return _write_failed(failure.error, arguments, context)
    except (CommandFailure, SequenceError, exc.SQLAlchemyError, ImportError) as error:
        said = explain(_ours(error, engine), context)
        if context.delivered:
            said = f'committing failed, so the values printed above were not taken: {said}'
        terminal.say(said)
        return 1
    finally:
        notice.stop()
        if engine is not None:
            with terminal.sigint_ignored():
                engine.dispose()
    return 0
