"""The commands: each takes the engine, the parsed arguments and the context, and writes its output."""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from sqlalchemy import Engine

from .. import _operations as operations
from . import terminal
from .messages import Context, shown_name

__all__ = ['create_table', 'current', 'drop', 'listing', 'restart', 'take', 'upgrade_table']

#: ``next`` writes its values in pieces of this many, not as one string of them all.
_VALUES_PER_WRITE = 10_000


def _output(context: Context, text: str) -> None:
    """Write a command's output: from now on the command waits for its reader, not the database."""
    context.waiting_for(None)
    terminal.write(text)


def _shown(value: operations.Listed) -> str:
    if value is operations.UNSET:
        return 'unset'
    return 'none' if value is None else str(value)


def _listed(name: str, value: operations.Listed) -> dict[str, object]:
    if value is operations.UNSET:
        return {'name': name, 'current': None, 'unset': True}
    return {'name': name, 'current': value}


def _json(document: object) -> str:
    return json.dumps(document, ensure_ascii=False) + '\n'


def take(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    def deliver(values: Sequence[int]) -> None:
        if arguments.json:
            _output(context, _json({'name': arguments.name, 'values': list(values)}))
        else:
            for start in range(0, len(values), _VALUES_PER_WRITE):
                _output(context, ''.join(f'{value}\n' for value in values[start : start + _VALUES_PER_WRITE]))
        context.delivered = True

    operations.take(engine, arguments.name, arguments.count, arguments.impl, arguments.create, deliver)


def current(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    value = operations.current(engine, arguments.name, arguments.impl)
    _output(context, _json({'name': arguments.name, 'current': value}) if arguments.json else f'{_shown(value)}\n')


def restart(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    operations.restart(engine, arguments.name, arguments.value, arguments.force, arguments.impl)
    _output(context, f'{shown_name(arguments.name)}: the next value is {arguments.value}\n')


def drop(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    operations.drop(engine, arguments.name, arguments.impl)
    _output(context, f'dropped {shown_name(arguments.name)}\n')


def listing(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    rows = operations.listing(engine, arguments.impl)
    if arguments.json:
        _output(context, _json([_listed(name, value) for name, value in rows]))
    else:
        _output(context, ''.join(f'{shown_name(name)}\t{_shown(value)}\n' for name, value in rows))


def create_table(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    if operations.create_table(engine):
        _output(context, f'created the sequences table in {context.url}\n')
        return
    differences = operations.outdated(engine)
    _output(context, f'the sequences table already exists in {context.url}\n')
    if differences:
        _output(context, f'it has the mortar_rdb 3.0 shape ({"; ".join(differences)}): run upgrade-table\n')


def upgrade_table(engine: Engine, arguments: argparse.Namespace, context: Context) -> None:
    differences = operations.outdated(engine)
    if operations.upgrade_table(engine):
        done = '; '.join(getattr(difference, 'upgraded', difference) for difference in differences)
        _output(context, f'upgraded the sequences table in {context.url}: {done}\n')
    else:
        _output(context, f'the sequences table in {context.url} is already current; nothing to do\n')
