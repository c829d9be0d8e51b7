"""The command line: ``python -m mortar_rdb.sequence next NAME``."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sqlalchemy import create_engine, exc
from sqlalchemy.orm import Session

from .errors import SequenceError
from .generic import SequenceImplementation, sequences

DEFAULT_URL = 'sqlite:///sequences.db'


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m mortar_rdb.sequence',
        description='Take values from the sequences in a database.',
    )
    parser.add_argument(
        '--url',
        default=os.environ.get('MORTAR_RDB_URL', DEFAULT_URL),
        help='SQLAlchemy database URL (default: $MORTAR_RDB_URL, else %(default)s)',
    )
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    take = commands.add_parser(
        'next', help='print the next value of a sequence, creating it (and its table) if missing'
    )
    take.add_argument('name', help='the sequence name')
    return parser


def _next(url: str, name: str) -> int:
    engine = create_engine(url)
    try:
        sequences.create(engine, checkfirst=True)
        with Session(engine) as session, session.begin():
            sequence = SequenceImplementation(name, session)
            return sequence.next(session)
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        print(_next(arguments.url, arguments.name))
    except (SequenceError, exc.SQLAlchemyError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
