"""Scripts: the command line that creates and drops a config's tables."""
import logging
import os
import subprocess
import sys
from argparse import ArgumentParser
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, Column, Integer, MetaData, Table, create_engine, inspect, make_url
from sqlalchemy.exc import DBAPIError

from mortar_rdb.controlled import Config, Scripts, Source

from .sample_packages import packages  # noqa: F401

ROOT = Path(__file__).parent.parent

users = Table('users', MetaData(), Column('id', Integer, primary_key=True))
orders = Table('orders', MetaData(), Column('id', Integer, primary_key=True))
config = Config(Source(users), Source(orders))


def table_names(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def shown(url):
    return make_url(url).render_as_string(hide_password=True)


def test_create_makes_the_tables_and_says_which(db_url, capsys):
    assert Scripts(db_url, config, failsafe=False)(['create']) == 0
    assert capsys.readouterr().out == (
        f'For database at {shown(db_url)}:\nCreating the following tables:\nusers\norders\n'
    )
    assert table_names(db_url) == {'users', 'orders'}


def test_create_refuses_when_the_database_has_tables(db_url, capsys):
    engine = create_engine(db_url)
    Source(users).create(engine)
    engine.dispose()
    assert Scripts(db_url, config, failsafe=True)(['create']) == 1
    assert capsys.readouterr().out == (
        f'For database at {shown(db_url)}:\nRefusing to create as the following tables exist:\nusers\n'
    )
    assert table_names(db_url) == {'users'}


def test_drop_drops_every_table_when_failsafe_allows(db_url, capsys):
    stranger = Table('stranger', MetaData(), Column('id', Integer, primary_key=True))
    engine = create_engine(db_url)
    config.create(engine)
    stranger.create(engine)
    engine.dispose()
    assert Scripts(db_url, config, failsafe=True)(['drop']) == 0
    assert capsys.readouterr().out == f'For database at {shown(db_url)}:\nDropping all tables.\n'
    assert table_names(db_url) == set()


def test_drop_refuses_without_failsafe(db_url, capsys):
    engine = create_engine(db_url)
    config.create(engine)
    engine.dispose()
    assert Scripts(db_url, config, failsafe=False)(['drop']) == 1
    assert capsys.readouterr().out == (
        f'For database at {shown(db_url)}:\nRefusing to drop all tables due to failsafe.\n'
    )
    assert table_names(db_url) == {'users', 'orders'}


def test_url_option_acts_on_another_database(db_url, capsys):
    assert Scripts('sqlite:////nonexistent/never.db', config, failsafe=False)(['--url', db_url, 'create']) == 0
    assert capsys.readouterr().out.startswith(f'For database at {shown(db_url)}:\n')
    assert table_names(db_url) == {'users', 'orders'}


def test_the_command_comes_from_the_process_arguments_by_default(tmp_path, monkeypatch, capsys):
    url = f'sqlite:///{tmp_path}/test.db'
    monkeypatch.setattr(sys, 'argv', ['db', 'create'])
    assert Scripts(url, config, failsafe=False)() == 0
    assert table_names(url) == {'users', 'orders'}


def test_help_names_the_database_without_its_password_and_the_tables(capsys):
    with pytest.raises(SystemExit) as exit:
        Scripts('postgresql+psycopg://app:secret@db.example/app', config, failsafe=False)(['--help'])
    output = capsys.readouterr().out
    assert exit.value.code == 0
    assert 'postgresql+psycopg://app:***@db.example/app' in output
    assert 'secret' not in output
    assert 'The database to be acted on is at:\npostgresql+psycopg://app:***@db.example/app\n' in output
    assert 'The following tables are in the current configuration:\nusers\norders\n' in output
    assert 'create' in output and 'drop' in output


def test_an_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        Scripts('sqlite://', config, failsafe=False)(['migrate'])
    assert exit.value.code == 2
    assert "invalid choice: 'migrate'" in capsys.readouterr().err


def test_without_any_url_it_asks_for_one(capsys):
    with pytest.raises(SystemExit) as exit:
        Scripts(None, config, failsafe=False)(['create'])
    assert exit.value.code == 2
    assert 'no database URL: pass --url' in capsys.readouterr().err


def exit_status(scripts, argv):
    with pytest.raises(SystemExit) as exit:
        scripts(argv)
    return exit.value.code


def test_a_url_it_cannot_read_is_reported_in_one_line_each(capsys):
    assert exit_status(Scripts('not a url', config, failsafe=False), ['create']) == 2
    output = capsys.readouterr()
    assert output.out == (
        "Cannot use the database at not a url: Could not parse SQLAlchemy URL from given URL string\n"
        'Check the URL, or pass another with --url.\n'
    )
    assert 'Traceback' not in output.err


def test_a_database_it_cannot_reach_is_reported_without_a_traceback(tmp_path, capsys):
    url = f'sqlite:///{tmp_path}/missing/directory/test.db'
    assert exit_status(Scripts(url, config, failsafe=False), ['create']) == 2
    output = capsys.readouterr()
    assert output.out == (
        f'Cannot connect to the database at {url}: unable to open database file\n'
        'Check that it can be reached at that URL, or pass another with --url.\n'
    )
    assert 'Traceback' not in output.out + output.err


def test_a_missing_driver_is_reported_without_a_traceback(capsys):
    assert exit_status(Scripts('nosuchdialect://host/db', config, failsafe=False), ['create']) == 2
    assert "Can't load plugin: sqlalchemy.dialects:nosuchdialect" in capsys.readouterr().out


def test_help_keeps_the_description_of_a_parser_of_the_application(capsys):
    parser = ArgumentParser(description='Manage the shop.')
    Scripts(None, config, failsafe=False).setup_parser(parser)
    assert parser.format_help().count('Manage the shop.\n\nThe following tables are in the current configuration:') == 1


def test_run_prefers_the_url_option_to_the_url_it_is_given(db_url, capsys):
    parser = ArgumentParser()
    scripts = Scripts(None, config, failsafe=False)
    scripts.setup_parser(parser)
    options = parser.parse_args(['--url', db_url, 'create'])
    assert scripts.run(db_url='sqlite:////nonexistent/never.db', options=options) == 0
    assert table_names(db_url) == {'users', 'orders'}


def test_options_from_its_parser_carry_the_scripts_url_to_run(db_url, capsys):
    parser = ArgumentParser()
    scripts = Scripts(db_url, config, failsafe=False)
    scripts.setup_parser(parser)
    assert scripts.run('not the url used', parser.parse_args(['create'])) == 0
    assert table_names(db_url) == {'users', 'orders'}


def test_create_and_drop_act_on_the_engine_of_the_last_run_when_given_none(db_url, capsys):
    parser = ArgumentParser()
    scripts = Scripts(db_url, config, failsafe=True)
    scripts.setup_parser(parser)
    scripts.run(db_url, parser.parse_args(['drop']))
    assert scripts.create() is True
    assert table_names(db_url) == {'users', 'orders'}
    assert scripts.drop() is True
    assert table_names(db_url) == set()


def test_create_without_an_engine_before_any_run_says_what_to_pass():
    with pytest.raises(TypeError, match=r'No engine to act on: pass one, or call run\(\) first'):
        Scripts(None, config, failsafe=False).create()


def test_a_failed_create_is_raised_not_blamed_on_the_url(db_url, capsys):
    broken = Table('broken', MetaData(), Column('x', Integer), CheckConstraint('x >'))
    with pytest.raises(DBAPIError):
        Scripts(db_url, Config(Source(broken)), failsafe=False)(['create'])
    assert 'URL' not in capsys.readouterr().out


def test_run_logs_what_it_does_without_printing(db_url, caplog, capsys):
    parser = ArgumentParser()
    scripts = Scripts(None, config, failsafe=False)
    scripts.setup_parser(parser)
    with caplog.at_level(logging.INFO, logger='mortar_rdb.controlled'):
        assert scripts.run(db_url, parser.parse_args(['create'])) == 0
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        ('INFO', f'For database at {shown(db_url)}:'),
        ('INFO', 'Creating the following tables:'),
        ('INFO', 'users'),
        ('INFO', 'orders'),
    ]
    assert capsys.readouterr().out == ''


def test_calling_it_leaves_the_logger_as_it_was(tmp_path):
    logger = logging.getLogger('mortar_rdb.controlled')
    handlers, level = list(logger.handlers), logger.level
    Scripts(f'sqlite:///{tmp_path}/test.db', config, failsafe=False)(['create'])
    assert (logger.handlers, logger.level) == (handlers, level)


def test_it_runs_as_a_script_of_the_application(packages, db_url):  # noqa: F811
    packages.write(
        'shop/model.py',
        """
        from sqlalchemy import Column, Integer
        from mortar_rdb import declarative_base
        from mortar_rdb.controlled import Config, scan

        class Order(declarative_base()):
            __tablename__ = 'orders'
            id = Column(Integer, primary_key=True)

        config = Config(scan('shop'))
        """,
    )
    packages.write('shop/__init__.py')
    packages.write(
        'shop/db.py',
        """
        import sys
        from mortar_rdb.controlled import Scripts
        from shop.model import config

        scripts = Scripts('sqlite://', config, failsafe=True)

        if __name__ == '__main__':
            sys.exit(scripts())
        """,
    )
    environment = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(packages.root), str(ROOT / 'src')])}

    def db(*args):
        return subprocess.run(
            [sys.executable, '-m', 'shop.db', '--url', db_url, *args],
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
        )

    created, refused, dropped = db('create'), db('create'), db('drop')
    assert (created.returncode, created.stdout, created.stderr) == (
        0,
        f'For database at {shown(db_url)}:\nCreating the following tables:\norders\n',
        '',
    )
    assert (refused.returncode, refused.stdout.splitlines()[1:], refused.stderr) == (
        1,
        ['Refusing to create as the following tables exist:', 'orders'],
        '',
    )
    assert (dropped.returncode, dropped.stdout.splitlines()[1:], dropped.stderr) == (0, ['Dropping all tables.'], '')
    assert table_names(db_url) == set()


def test_a_script_written_as_30s_docs_show_exits_1_when_create_fails(packages, db_url):  # noqa: F811
    packages.write(
        'broken/__init__.py',
        """
        from sqlalchemy import CheckConstraint, Column, Integer, MetaData, Table
        from mortar_rdb.controlled import Config, Scripts, Source

        broken = Table('broken', MetaData(), Column('x', Integer), CheckConstraint('x >'))
        scripts = Scripts('sqlite://', Config(Source(broken)), True)
        """,
    )
    packages.write(
        'broken/db.py',
        """
        from broken import scripts

        if __name__ == '__main__':
            scripts()
        """,
    )
    environment = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(packages.root), str(ROOT / 'src')])}
    result = subprocess.run(
        [sys.executable, '-m', 'broken.db', '--url', db_url, 'create'],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 1
    assert 'Traceback' in result.stderr and 'CHECK' in result.stderr.upper()
    assert 'Check the URL' not in result.stdout + result.stderr


def test_a_script_written_as_30s_docs_show_exits_2_when_its_url_cannot_be_used(packages, tmp_path):  # noqa: F811
    packages.write(
        'lost.py',
        """
        from sqlalchemy import Column, Integer, MetaData, Table
        from mortar_rdb.controlled import Config, Scripts, Source

        things = Table('things', MetaData(), Column('id', Integer, primary_key=True))
        scripts = Scripts('sqlite:////nonexistent/directory/lost.db', Config(Source(things)), True)

        if __name__ == '__main__':
            scripts()
        """,
    )
    environment = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(packages.root), str(ROOT / 'src')])}
    result = subprocess.run(
        [sys.executable, '-m', 'lost', 'create'], capture_output=True, text=True, env=environment, timeout=120
    )
    assert (result.returncode, result.stderr) == (2, '')
    assert result.stdout.startswith('Cannot connect to the database at sqlite:////nonexistent/directory/lost.db')
