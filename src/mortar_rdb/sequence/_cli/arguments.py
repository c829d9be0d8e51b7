"""The command line's arguments: its commands, their flags, and the values they take."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from importlib import metadata
from typing import Any, NoReturn

from .. import _operations as operations
from .._names import check_name
from .._table import INT64_MAX
from ..errors import InvalidSequenceName
from . import commands, in_doubt
from .messages import DEFAULT_URL

__all__ = ['DEFAULT_TIMEOUT', 'parser']

URL_HELP = 'SQLAlchemy database URL (default: $MORTAR_RDB_URL, else %s, a file in the current directory)'
DEFAULT_TIMEOUT = 10.0
TIMEOUT_HELP = (
    'give up after waiting this long to connect, for a lock or for a statement '
    f'(default {DEFAULT_TIMEOUT:g})'
)


class _Parser(argparse.ArgumentParser):
    """Reports a command line that does not parse in one line, with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


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


def _version() -> str:
    try:
        return metadata.version('mortar_rdb')
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return 'unknown'


def parser() -> argparse.ArgumentParser:
    """The parser of the whole command line; each command's ``run`` is set as a default."""
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
    subparsers = parser.add_subparsers(dest='command', required=True, metavar='COMMAND', parser_class=_Parser)

    # Which sequences a command works on.
    kinds = _Parser(add_help=False)
    kinds.add_argument(
        '--impl',
        choices=operations.IMPLEMENTATIONS,
        default='generic',
        help='generic: rows of the sequences table (the default); native: the database\'s own sequences',
    )

    def command(name: str, run: Callable[..., None], summary: str, example: str, impl: bool = True) -> Any:
        sub = subparsers.add_parser(
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
        'create-table',
        commands.create_table,
        'Create the sequences table if it is missing.',
        'create-table',
        impl=False,
    )
    listed = command(
        'list',
        commands.listing,
        'Print the name and current value of every sequence, a tab between them, one line each; '
        'a name that would break the line is printed JSON-quoted.',
        'list --json',
    )
    json_flag(listed)
    take = command(
        'next',
        commands.take,
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
        commands.current,
        'Print the last value a sequence handed out ("none" before the first); takes nothing.',
        'current invoices',
    )
    current.add_argument('name', type=_name, help='the sequence name')
    json_flag(current)
    restart = command(
        'restart',
        commands.restart,
        'Make VALUE the next value of a sequence; it will not move backwards without --force.',
        'restart invoices 5000',
    )
    restart.add_argument('name', type=_name, help='the sequence name')
    restart.add_argument('value', type=_value, help='the next value to hand out')
    restart.add_argument(
        '--force', action='store_true', help='move backwards too, although values may then be handed out twice'
    )
    drop = command(
        'drop', commands.drop, 'Delete a sequence and its value (a native sequence at once).', 'drop invoices'
    )
    drop.add_argument('name', type=_name, help='the sequence name')
    command(
        'upgrade-table',
        commands.upgrade_table,
        'Widen a mortar_rdb 3.0 sequences table to the current shape, keeping every value; '
        'does nothing to a current table.',
        'upgrade-table --url postgresql+psycopg://app@db.example.com/app',
        impl=False,
    )
    in_doubt.add_command(command)
    return parser
