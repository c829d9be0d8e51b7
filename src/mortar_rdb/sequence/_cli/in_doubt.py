"""The ``in-doubt`` command: list the transactions left in doubt, commit or roll back one.

A process that dies between a two-phase commit's PREPARE and its COMMIT
leaves a prepared transaction that holds its locks, a sequence's row among
them, until someone ends it. ``in-doubt`` lists those of the database
(with the sequences they hold, where the database can tell);
``in-doubt commit ID`` and ``in-doubt rollback ID`` end one, and refuse an
id that is not in doubt there. The SQL is in :mod:`.._dialects.in_doubt`.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from .._dialects import PreparedTransaction, in_doubt_sql_for
from ..errors import NotInDoubt
from . import terminal
from .messages import Context, shown_name

__all__ = ['add_command']


def _output(context: Context, text: str) -> None:
    context.waiting_for(None)  # from now on the command waits for its reader, not the database
    terminal.write(text)


def _document(found: PreparedTransaction) -> dict[str, Any]:
    sequences = None if found.sequences is None else list(found.sequences)
    return {'id': found.id, 'database': found.database, 'seconds': found.seconds, 'sequences': sequences}


def _line(found: PreparedTransaction) -> str:
    if found.sequences is None:
        held = '?'
    else:
        held = ','.join(shown_name(name) for name in found.sequences) or '-'
    seconds = '-' if found.seconds is None else f'{found.seconds}s'
    return f'{shown_name(found.id)}\t{found.database or "-"}\t{seconds}\t{held}\n'


def _run(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    if arguments.action is not None and arguments.id is None:
        arguments.in_doubt_usage.error(f'{arguments.action} needs the id of the transaction to end')
    sql = in_doubt_sql_for(engine.dialect)
    with engine.connect() as connection:
        found = sql.listing(connection)
        if arguments.action is None:
            if arguments.json:
                _output(context, json.dumps([_document(each) for each in found], ensure_ascii=False) + '\n')
            else:
                _output(context, ''.join(_line(each) for each in found))
            return
        chosen = next((each for each in found if arguments.id in (each.id, each.commit.split(' ', 2)[-1])), None)
        if chosen is None:
            raise NotInDoubt(arguments.id, context.url)
        commit = arguments.action == 'commit'
        sql.end(connection, chosen, commit)
    done = 'committed' if commit else 'rolled back'
    if arguments.json:
        _output(context, json.dumps({'id': chosen.id, 'done': done}, ensure_ascii=False) + '\n')
    else:
        _output(context, f'{done} the transaction in doubt {shown_name(chosen.id)} in {context.url}\n')


def add_command(command: Callable[..., Any]) -> None:
    """Add ``in-doubt`` to the command line, with its ``command`` helper."""
    sub = command(
        'in-doubt',
        _run,
        'List the transactions left in doubt (prepared for two-phase commit, never committed or rolled back), '
        'one line each: id, database, age, the sequences it holds ("?" where the database cannot tell, '
        'as on MariaDB); or commit or roll back one by its id.',
        'in-doubt rollback _sa_4f1c...',
        impl=False,
    )
    sub.add_argument('action', nargs='?', choices=['commit', 'rollback'], help='end the transaction ID this way')
    sub.add_argument('id', nargs='?', help='the id "in-doubt" listed')
    sub.add_argument('--json', action='store_true', help='print one JSON document instead')
    sub.set_defaults(in_doubt_usage=sub)
