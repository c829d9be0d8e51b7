"""The command line: ``python -m mortar_rdb.sequence`` or ``mortar-sequence``.

What it promises (docs/operations.rst says the same to its users):

- ``next`` writes the values out before it commits, and rolls back if
  writing fails, so a generic sequence spends no number nobody saw.
- ``next`` creates a missing table or sequence only with ``--create``;
  ``current`` and ``list`` never create anything, not even a SQLite file.
- ``--timeout`` bounds connecting, each statement and each lock wait; Ctrl-C
  rolls back and exits with status 130.
- Exit status 0 on success, 1 for a refused or failed operation, 2 for a
  command line that is not right (an unknown command or flag, a value no
  sequence can take); every failure is one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any, NoReturn

from sqlalchemy import Engine, exc, make_url

from .. import _operations as operations
from .._names import check_name
from .._table import INT64_MAX
from ..errors import InvalidSequenceName, SequenceError
from . import in_doubt, terminal
from .messages import DEFAULT_URL, Context, argument, explain, shown_name
from .timeouts import bounded_engine

URL_HELP = 'SQLAlchemy database URL (default: $MORTAR_RDB_URL, else %s, a file in the current directory)'
DEFAULT_TIMEOUT = 10.0
TIMEOUT_HELP = (
    'give up after waiting this long to connect, for a lock or for a statement '
    f'(default {DEFAULT_TIMEOUT:g})'
)
INTERRUPTED = 130
#: ``next`` writes its values in pieces of this many, not as one string of them all.
_VALUES_PER_WRITE = 10_000


class _Parser(argparse.ArgumentParser):
    """Reports a command line that does not parse in one line, with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


class _Failed(Exception):
    """A failure the command line describes itself, in one line."""


# Values on the command line: a value no sequence could take is a usage mistake (2).


def _whole(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{what} must be a whole number, not {text!r}') from None
    if not 1 <= value <= INT64_MAX:
        raise argparse.ArgumentTypeError(f'{what} must be between 1 and {INT64_MAX}, not {text}')
    return value


def _value(text: str) -> int:
    return _whole(text, 'the value')


def _count(text: str) -> int:
    return _whole(text, 'the count')


def _name(text: str) -> str:
    try:
        return check_name(text)
    except InvalidSequenceName as error:
        raise argparse.ArgumentTypeError(str(error).rstrip('.')) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'the timeout must be a number of seconds, not {text!r}') from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f'the timeout must be more than 0 and at most 86400 seconds, not {text}')
    return value


# Output -----------------------------------------------------------------------


def _output(context: Context, text: str) -> None:
    """Write a command's output: from now on the command waits for its reader, not the database."""
    context.waiting_for(None)
    terminal.write(text)


def _shown(value: int | None) -> str:
    return 'none' if value is None else str(value)


def _json(document: object) -> str:
    return json.dumps(document, ensure_ascii=False) + '\n'


# The commands -----------------------------------------------------------------


def _next(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    def deliver(values: Sequence[int]) -> None:
        if arguments.json:
            _output(context, _json({'name': arguments.name, 'values': list(values)}))
        else:
            for start in range(0, len(values), _VALUES_PER_WRITE):
                _output(context, ''.join(f'{value}\n' for value in values[start : start + _VALUES_PER_WRITE]))
        context.delivered = True

    operations.take(engine, arguments.name, arguments.count, arguments.impl, arguments.create, deliver)


def _current(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    value = operations.current(engine, arguments.name, arguments.impl)
    _output(context, _json({'name': arguments.name, 'current': value}) if arguments.json else f'{_shown(value)}\n')


def _restart(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    operations.restart(engine, arguments.name, arguments.value, arguments.force, arguments.impl)
    _output(context, f'{shown_name(arguments.name)}: the next value is {arguments.value}\n')


def _drop(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    operations.drop(engine, arguments.name, arguments.impl)
    _output(context, f'dropped {shown_name(arguments.name)}\n')


def _list(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    rows = operations.listing(engine, arguments.impl)
    if arguments.json:
        _output(context, _json([{'name': name, 'current': value} for name, value in rows]))
    else:
        _output(context, ''.join(f'{shown_name(name)}\t{_shown(value)}\n' for name, value in rows))


def _create_table(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    if operations.create_table(engine):
        _output(context, f'created the sequences table in {context.url}\n')
        return
    differences = operations.outdated(engine)
    _output(context, f'the sequences table already exists in {context.url}\n')
    if differences:
        _output(context, f'it has the mortar_rdb 3.0 shape ({"; ".join(differences)}): run upgrade-table\n')


def _upgrade_table(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    differences = operations.outdated(engine)
    if operations.upgrade_table(engine):
        _output(context, f'upgraded the sequences table in {context.url}: {"; ".join(differences)}\n')
    else:
        _output(context, f'the sequences table in {context.url} is already current; nothing to do\n')


def _version() -> str:
    try:
        return metadata.version('mortar_rdb')
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return 'unknown'


def _parser() -> argparse.ArgumentParser:
    script = os.path.basename(sys.argv[0]) == 'mortar-sequence'
    parser = _Parser(
        prog='mortar-sequence' if script else 'python -m mortar_rdb.sequence',
        description='Look after the sequences of a database: take values, inspect, restart and drop them, '
        'and create or upgrade their table.',
        epilog='Exit status: 0 success, 1 refused or failed (one line on stderr says why), '
        '2 a usage mistake, 130 interrupted. Example: %(prog)s next invoices --create',
    )
    parser.add_argument('--version', action='version', version=f'%(prog)s {_version()}')
    url = os.environ.get('MORTAR_RDB_URL') or DEFAULT_URL
    parser.add_argument('--url', default=url, help=URL_HELP % DEFAULT_URL)
    parser.add_argument('--timeout', type=_seconds, default=DEFAULT_TIMEOUT, metavar='SECONDS', help=TIMEOUT_HELP)
    # --url and --timeout are accepted after the command too; there they override.
    common = _Parser(add_help=False)
    common.add_argument('--url', default=argparse.SUPPRESS, help=URL_HELP % DEFAULT_URL)
    common.add_argument('--timeout', type=_seconds, default=argparse.SUPPRESS, metavar='SECONDS', help=TIMEOUT_HELP)
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND', parser_class=_Parser)

    # Which sequences a command works on.
    kinds = _Parser(add_help=False)
    kinds.add_argument(
        '--impl',
        choices=operations.IMPLEMENTATIONS,
        default='generic',
        help='generic: rows of the sequences table (the default); native: the database\'s own sequences',
    )

    def command(name: str, run: Callable[..., None], summary: str, example: str, impl: bool = True) -> Any:
        sub = commands.add_parser(
            name,
            parents=[common, kinds] if impl else [common],
            help=summary,
            description=summary,
            epilog=f'example: {parser.prog} {example}',
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(run=run)
        return sub

    def json_flag(sub: argparse.ArgumentParser) -> None:
        sub.add_argument('--json', action='store_true', help='print one JSON document instead')

    command(
        'create-table', _create_table, 'Create the sequences table if it is missing.', 'create-table', impl=False
    )
    listed = command(
        'list',
        _list,
        'Print the name and current value of every sequence, a tab between them, one line each; '
        'a name that would break the line is printed JSON-quoted.',
        'list --json',
    )
    json_flag(listed)
    take = command(
        'next',
        _next,
        'Print the next value of a sequence. Values are written before they are committed: '
        'if writing fails, they are given back (not for --impl native).',
        'next invoices --count 3',
    )
    take.add_argument('name', type=_name, help='the sequence name')
    take.add_argument('--count', type=_count, default=1, metavar='N', help='take N values, one per line (default 1)')
    take.add_argument(
        '--create', action='store_true', help='create the sequences table and the sequence if they are missing'
    )
    json_flag(take)
    current = command(
        'current',
        _current,
        'Print the last value a sequence handed out ("none" before the first); takes nothing.',
        'current invoices',
    )
    current.add_argument('name', type=_name, help='the sequence name')
    json_flag(current)
    restart = command(
        'restart',
        _restart,
        'Make VALUE the next value of a sequence; it will not move backwards without --force.',
        'restart invoices 5000',
    )
    restart.add_argument('name', type=_name, help='the sequence name')
    restart.add_argument('value', type=_value, help='the next value to hand out')
    restart.add_argument(
        '--force', action='store_true', help='move backwards too, although values may then be handed out twice'
    )
    drop = command(
        'drop', _drop, 'Delete a sequence and its value (a native sequence at once).', 'drop invoices'
    )
    drop.add_argument('name', type=_name, help='the sequence name')
    command(
        'upgrade-table',
        _upgrade_table,
        'Widen a mortar_rdb 3.0 sequences table to the current shape, keeping every value; '
        'does nothing to a current table.',
        'upgrade-table --url postgresql+psycopg://app@db.example.com/app',
        impl=False,
    )
    in_doubt.add_command(command, _output)
    return parser


# Running a command --------------------------------------------------------------


def _creates(arguments: argparse.Namespace) -> bool:
    return arguments.command == 'create-table' or (arguments.command == 'next' and arguments.create)


def _refuse_a_missing_sqlite_file(arguments: argparse.Namespace, context: Context) -> None:
    """Commands that create nothing must not leave an empty SQLite file behind either."""
    url = make_url(arguments.url)
    database = url.database
    if url.get_backend_name() != 'sqlite' or not database or database == ':memory:':
        return
    if database.startswith('file:') or url.query.get('uri'):
        return
    if _creates(arguments) or os.path.exists(database):
        return
    if arguments.command == 'next':
        fix = f'create it and the sequence with "next {argument(arguments.name)}{context.options} --create"'
    else:
        fix = 'create it with "create-table"'
    raise _Failed(
        f'there is no database file {os.path.abspath(database)!r} for {context.url}: check the URL '
        f'(--url or $MORTAR_RDB_URL) and the current directory, or {fix}'
    )


def _what_a_statement_waits_for(context: Context) -> str:
    if context.backend == 'sqlite':
        return f'the database {context.url}, which another writer may have locked'
    return f'{context.locked} in {context.url}, which another transaction may hold'


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        return _run(_parser().parse_args(argv))
    except KeyboardInterrupt:  # before the command began: nothing to roll back
        terminal.say('interrupted; nothing was committed')
        return INTERRUPTED


def _run(arguments: argparse.Namespace) -> int:
    context = Context(
        url=arguments.url,
        command=arguments.command,
        seconds=arguments.timeout,
        name=getattr(arguments, 'name', None),
        options=' --impl native' if getattr(arguments, 'impl', 'generic') == 'native' else '',
    )
    notice = terminal.Notice(arguments.timeout)
    context.waiting_for = notice.waiting_for
    engine: Engine | None = None
    try:
        context.url = make_url(arguments.url).render_as_string(hide_password=True)
        _refuse_a_missing_sqlite_file(arguments, context)
        engine = bounded_engine(arguments.url, arguments.timeout)
        context.backend = engine.dialect.name
        server = 'the database' if context.backend == 'sqlite' else 'the database server at'
        notice.waiting_for(f'{server} {context.url}')
        engine.connect().close()  # back to the pool, for the command to use
        context.connected = True
        notice.waiting_for(_what_a_statement_waits_for(context))
        arguments.run(engine, arguments, context)
    except KeyboardInterrupt:
        with terminal.sigint_ignored():
            notice.stop()
            terminal.say('interrupted; nothing was committed')
        return INTERRUPTED
    except terminal.WriteFailed as failure:
        return _write_failed(failure.error, arguments, context)
    except _Failed as failure:
        terminal.say(str(failure))
        return 1
    except (SequenceError, exc.SQLAlchemyError, ImportError) as error:
        said = explain(error, context)
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

