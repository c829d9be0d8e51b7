"""The command line: ``python -m mortar_rdb.sequence`` or ``mortar-sequence``.

``next NAME`` creates the sequences table and the sequence when they are
missing, so that on a fresh directory ``python -m mortar_rdb.sequence next
invoices`` prints 1, then 2. Every other command needs them to exist.
A mistake prints one line on stderr and exits with status 1 (2 for a
command line that does not parse); there is no traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from sqlalchemy import Engine, create_engine, exc, make_url

from . import _operations as operations
from .errors import SequenceError

DEFAULT_URL = 'sqlite:///sequences.db'
URL_HELP = 'SQLAlchemy database URL (default: $MORTAR_RDB_URL, else %s, a file in the current directory)'


class _Parser(argparse.ArgumentParser):
    """Reports a command line that does not parse in one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{text} is below 1; sequence values and counts start at 1')
    return value


def _shown(value: int | None) -> str:
    return 'none' if value is None else str(value)


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _next(engine: Engine, arguments: argparse.Namespace) -> None:
    for value in operations.take(engine, arguments.name, arguments.count, arguments.impl):
        print(value)


def _current(engine: Engine, arguments: argparse.Namespace) -> None:
    print(_shown(operations.current(engine, arguments.name, arguments.impl)))


def _restart(engine: Engine, arguments: argparse.Namespace) -> None:
    operations.restart(engine, arguments.name, arguments.value, arguments.force, arguments.impl)
    print(f'{arguments.name}: the next value is {arguments.value}')


def _drop(engine: Engine, arguments: argparse.Namespace) -> None:
    operations.drop(engine, arguments.name, arguments.impl)
    print(f'dropped {arguments.name}')


def _list(engine: Engine, arguments: argparse.Namespace) -> None:
    for name, value in operations.listing(engine, arguments.impl):
        print(f'{name}\t{_shown(value)}')


def _create_table(engine: Engine, arguments: argparse.Namespace) -> None:
    if operations.create_table(engine):
        print(f'created the sequences table in {_where(engine)}')
        return
    print(f'the sequences table already exists in {_where(engine)}')
    differences = operations.outdated(engine)
    if differences:
        print(f'it has the mortar_rdb 3.0 shape ({"; ".join(differences)}): run upgrade-table')


def _upgrade_table(engine: Engine, arguments: argparse.Namespace) -> None:
    differences = operations.outdated(engine)
    if operations.upgrade_table(engine):
        print(f'upgraded the sequences table in {_where(engine)}: {"; ".join(differences)}')
    else:
        print(f'the sequences table in {_where(engine)} is already current; nothing to do')


def _parser() -> argparse.ArgumentParser:
    script = os.path.basename(sys.argv[0]) == 'mortar-sequence'
    parser = _Parser(
        prog='mortar-sequence' if script else 'python -m mortar_rdb.sequence',
        description='Look after the sequences of a database: take values, inspect, restart and drop them, '
        'and create or upgrade their table.',
    )
    url = os.environ.get('MORTAR_RDB_URL') or DEFAULT_URL
    parser.add_argument('--url', default=url, help=URL_HELP % DEFAULT_URL)
    # --url is accepted after the command too; there it overrides.
    common = _Parser(add_help=False)
    common.add_argument('--url', default=argparse.SUPPRESS, help=URL_HELP % DEFAULT_URL)
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND', parser_class=_Parser)

    # Which sequences a command works on.
    kinds = _Parser(add_help=False)
    kinds.add_argument(
        '--impl',
        choices=operations.IMPLEMENTATIONS,
        default='generic',
        help='generic: rows of the sequences table (the default); native: the database\'s own sequences',
    )

    def command(name: str, run: Callable[[Engine, argparse.Namespace], None], summary: str, impl: bool = True) -> Any:
        sub = commands.add_parser(
            name, parents=[common, kinds] if impl else [common], help=summary, description=summary
        )
        sub.set_defaults(run=run)
        return sub

    command('create-table', _create_table, 'Create the sequences table if it is missing.', impl=False)
    command('list', _list, 'Print the name and current value of every sequence, one per line.')
    take = command(
        'next', _next, 'Print the next value of a sequence, creating the table and the sequence if missing.'
    )
    take.add_argument('name', help='the sequence name')
    take.add_argument('--count', type=_positive, default=1, metavar='N', help='take N values, one per line (default 1)')
    current = command(
        'current',
        _current,
        'Print the last value a sequence handed out ("none" before the first); takes nothing.',
    )
    current.add_argument('name', help='the sequence name')
    restart = command(
        'restart', _restart, 'Make VALUE the next value of a sequence; it will not move backwards without --force.'
    )
    restart.add_argument('name', help='the sequence name')
    restart.add_argument('value', type=_positive, help='the next value to hand out')
    restart.add_argument(
        '--force', action='store_true', help='move backwards too, although values may then be handed out twice'
    )
    drop = command('drop', _drop, 'Delete a sequence and its value (a native sequence at once).')
    drop.add_argument('name', help='the sequence name')
    command(
        'upgrade-table',
        _upgrade_table,
        'Widen a mortar_rdb 3.0 sequences table to the current shape, keeping every value; '
        'does nothing to a current table.',
        impl=False,
    )
    return parser


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else 'unknown error'


def _explain(error: BaseException, url: str) -> str:
    """One line that says what went wrong and what to do."""
    if isinstance(error, SequenceError):
        return _one_line(str(error))
    if isinstance(error, exc.NoSuchModuleError):
        return f'{url!r} names no database SQLAlchemy knows ({_one_line(str(error))}); check the part before "://"'
    if isinstance(error, exc.ArgumentError):
        return f'{url!r} is not a database URL ({_one_line(str(error))}); pass one like {DEFAULT_URL} with --url'
    if isinstance(error, ImportError):
        return (
            f'the database driver for {url} is not installed ({error}); install it, '
            'for instance with pip install "mortar_rdb[postgresql]" or "mortar_rdb[mysql]"'
        )
    if isinstance(error, exc.DBAPIError):
        return f'the database at {url} failed: {_one_line(str(error.orig))}; check the URL and that the database is up'
    return f'the database at {url} failed: {_one_line(str(error).split("(Background on this error")[0])}'


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    arguments = _parser().parse_args(argv)
    url = arguments.url
    try:
        url = make_url(arguments.url).render_as_string(hide_password=True)
        engine = create_engine(arguments.url)
    except (exc.SQLAlchemyError, ImportError) as error:
        print(f'error: {_explain(error, url)}', file=sys.stderr)
        return 1
    try:
        arguments.run(engine, arguments)
    except (SequenceError, exc.SQLAlchemyError, ImportError) as error:
        print(f'error: {_explain(error, url)}', file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == '__main__':
    sys.exit(main())
