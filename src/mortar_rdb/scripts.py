"""A command line that creates and drops the tables of a
:class:`~mortar_rdb.controlled.Config`: :class:`Scripts`, also importable as
``mortar_rdb.controlled.Scripts``.
"""
from __future__ import annotations

import logging
import re
import sys
from argparse import ArgumentParser, Namespace, RawDescriptionHelpFormatter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import URL, Engine, Table, create_engine, inspect, make_url
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from .controlled import Config

__all__ = ['Scripts']

logger = logging.getLogger('mortar_rdb.controlled')

#: What a URL can get wrong before anything is done: it cannot be read, its
#: driver is missing, its database cannot be reached.
_URL_MISTAKES = (SQLAlchemyError, ImportError, ValueError, OSError)


def _shown(url: str | URL) -> str:
    """``url`` as text, with any password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can read: hide what looks like a password anyway
        return re.sub(r'(//[^:/@]*:)[^@]*@', r'\1***@', str(url))


def _reason(error: BaseException) -> str:
    """The first line of what went wrong, from the driver where there is one."""
    text = str(getattr(error, 'orig', None) or error) or type(error).__name__
    return text.strip().splitlines()[0]


def _unusable(url: str | URL) -> str | None:
    """Why the database at ``url`` cannot be used, with what to check; None if it can.

    Only the URL's own mistakes are caught here, before anything is done:
    what goes wrong afterwards is raised where it happens.
    """
    try:
        engine = create_engine(url)
    except _URL_MISTAKES as error:
        return f'Cannot use the database at {_shown(url)}: {_reason(error)}\nCheck the URL, or pass another with --url.'
    try:
        engine.connect().close()
    except _URL_MISTAKES as error:
        return (
            f'Cannot connect to the database at {_shown(url)}: {_reason(error)}\n'
            'Check that it can be reached at that URL, or pass another with --url.'
        )
    finally:
        engine.dispose()
    return None


class Scripts:
    """Create and drop the tables of ``config`` in the database at ``url``, from the command line.

    Make one in a small script of your application and call it::

        import sys
        from mortar_rdb.controlled import Scripts
        from sample.model import config

        scripts = Scripts('postgresql+psycopg://localhost/sample', config, failsafe=False)

        if __name__ == '__main__':
            sys.exit(scripts())

    It can also be a console script entry point. The commands are ``create``
    (which refuses when the database already has tables) and ``drop`` (which
    drops every table in the database, and refuses unless ``failsafe`` is
    true: keep it false for a production database). ``--url`` acts on
    another database. What it does is logged to the ``mortar_rdb.controlled``
    logger, which prints to standard output while the script runs.

    :param url: the SQLAlchemy URL of the database, or None to require ``--url``.
    :param config: the :class:`~mortar_rdb.controlled.Config` whose tables to create.
    :param failsafe: True if every table of this database may be dropped.
    """

    def __init__(self, url: str | URL | None, config: Config, failsafe: bool) -> None:
        self.url = url
        self.config = config
        self.failsafe = failsafe

    def __call__(self, argv: Sequence[str] | None = None) -> int:
        """Run the command in ``argv`` (by default the process's arguments).

        Returns 0 when done and 1 when it refused. A URL that cannot be used
        (it cannot be read, its driver is missing or its database cannot be
        reached) is reported in two lines, without a traceback, and ends the
        program with exit status 2, as a usage error does: a script that
        ignores the return value, as 3.0's documentation shows, must not exit
        0 having done nothing. Anything that goes wrong once connected, such
        as a table the database refuses to create, is raised, as in 3.0, so
        such a script exits 1 with its traceback.
        """
        parser = ArgumentParser()
        self.setup_parser(parser)
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
        url = args.url or self.url
        if url is None:
            parser.error('no database URL: pass --url')
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter('%(message)s'))
        level = logger.level
        logger.addHandler(handler)
        if not logger.isEnabledFor(logging.INFO):
            logger.setLevel(logging.INFO)
        try:
            problem = _unusable(url)
            if problem is not None:
                for line in problem.splitlines():
                    logger.error('%s', line)
                raise SystemExit(2)
            return self.run(url, args)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)

    def setup_parser(self, parser: ArgumentParser) -> None:
        """Add the ``--url`` option and the ``create`` and ``drop`` commands to ``parser``.

        For applications that build their own command line around these commands.
        """
        # 3.0's words first, as applications' tests look for them.
        description = [parser.description] if parser.description else []
        if self.url is not None:
            description.append(f'The database to be acted on is at:\n{_shown(self.url)}')
        tables = '\n'.join(table.name for table in self._tables_in_order()) or '(none)'
        description.append(f'The following tables are in the current configuration:\n{tables}')
        parser.description = '\n\n'.join(description)
        parser.formatter_class = RawDescriptionHelpFormatter
        # The default is the script's own URL, as in 3.0, so that run(db_url,
        # options) with options from this parser acts on it.
        parser.add_argument('--url', default=self.url, help='act on the database at this SQLAlchemy URL instead')
        commands = parser.add_subparsers(dest='command', metavar='command', required=True)
        commands.add_parser('create', help='Create all the tables of the configuration in an empty database.')
        commands.add_parser('drop', help='Drop all tables in the database (only if failsafe is true).')

    def run(self, db_url: str | URL, options: Namespace) -> int:
        """Run the command parsed into ``options`` on ``options.url``, else ``db_url``.

        Logs what it does; returns 0 when done and 1 when it refused.
        """
        url = options.url or db_url
        # Kept on the object as 3.0 did, for create() and drop() called without one.
        self.engine = engine = create_engine(url)
        try:
            logger.info('For database at %s:', _shown(url))
            done = self.create(engine) if options.command == 'create' else self.drop(engine)
        finally:
            engine.dispose()
        return 0 if done else 1

    def create(self, engine: Engine | None = None) -> bool:
        """Create the tables of the configuration, if the database has no tables yet.

        ``engine`` defaults to the one :meth:`run` made last, as 3.0's
        ``create()`` took none. Returns whether it did.
        """
        engine = engine or self._last_engine()
        existing = sorted(inspect(engine).get_table_names())
        if existing:
            logger.error('Refusing to create as the following tables exist:')
            for name in existing:
                logger.error('%s', name)
            return False
        logger.info('Creating the following tables:')
        for table in self._tables_in_order():
            logger.info('%s', table.name)
        self.config.create(engine)
        return True

    def drop(self, engine: Engine | None = None) -> bool:
        """Drop every table in the database, if ``failsafe`` allows it. Returns whether it did.

        ``engine`` defaults to the one :meth:`run` made last, as 3.0's
        ``drop()`` took none.
        """
        engine = engine or self._last_engine()
        if not self.failsafe:
            logger.error('Refusing to drop all tables due to failsafe.')
            return False
        from .sessions import drop_tables  # here, so that importing controlled stays light

        logger.info('Dropping all tables.')
        drop_tables(engine)
        return True

    def _last_engine(self) -> Engine:
        engine: Engine | None = getattr(self, 'engine', None)
        if engine is None:
            raise TypeError('No engine to act on: pass one, or call run() first, which makes one from the URL.')
        return engine

    def _tables_in_order(self) -> list[Table]:
        return [table for source in self.config.sources for table in source.metadata.sorted_tables]
