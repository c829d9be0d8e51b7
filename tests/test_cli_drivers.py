"""The command line and database drivers: async URLs, and advice that installs the right driver."""
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from sqlalchemy import make_url

from mortar_rdb.sequence.__main__ import main
from tests.databases import async_url, configured
from tests.test_cli import error_line

#: What an asyncio application's $MORTAR_RDB_URL may hold, by the database it is on.
ASYNC_DRIVERS = [
    ('sqlite', 'aiosqlite'),
    ('postgresql', 'asyncpg'),
    ('postgresql', 'psycopg_async'),
    ('mariadb', 'aiomysql'),
    ('mariadb', 'asyncmy'),
]


@pytest.fixture(params=[pair for pair in ASYNC_DRIVERS if pair[0] in configured()], ids='-'.join)
def async_db_url(request, tmp_path_factory):
    from tests.databases import empty_database

    database, driver = request.param
    return async_url(empty_database(database, str(tmp_path_factory.mktemp('sqlite'))), driver)


def test_an_async_url_takes_values_through_the_same_databases_sync_driver(async_db_url, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a never-awaited coroutine would be a RuntimeWarning
        assert main(['--url', async_db_url, 'next', 'invoices', '--create', '--count', '2']) == 0
        assert main(['--url', async_db_url, 'current', 'invoices']) == 0
    assert capsys.readouterr() == ('1\n2\n2\n', '')


def test_an_async_url_as_a_process_prints_no_coroutine_warning(async_db_url):
    done = subprocess.run(
        [sys.executable, '-W', 'error', '-m', 'mortar_rdb.sequence', '--url', async_db_url, 'next', 'x', '--create'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, '1\n', '')


def test_an_async_url_whose_sync_twin_is_missing_says_what_to_install_and_what_to_pass(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'psycopg', None)  # as if psycopg were not installed
    assert main(['--url', 'postgresql+psycopg_async://app@127.0.0.1:1/app', 'list']) == 1
    err = error_line(capsys.readouterr().err)
    assert "pip install 'psycopg[binary]'" in err
    assert 'postgresql+psycopg_async://' in err and '--url' in err
    assert 'server' not in err  # nothing was tried, so nothing is blamed on a server


@pytest.mark.parametrize(
    'url, missing, install',
    [
        ('mysql://root@127.0.0.1:1/x', 'MySQLdb', 'pip install mysqlclient'),
        ('mysql+mysqldb://root@127.0.0.1:1/x', 'MySQLdb', 'pip install mysqlclient'),
        ('mysql+pymysql://root@127.0.0.1:1/x', 'pymysql', 'pip install PyMySQL'),
        ('mariadb+pymysql://root@127.0.0.1:1/x', 'pymysql', 'pip install PyMySQL'),
        ('postgresql+psycopg2://app@127.0.0.1:1/x', 'psycopg2', 'pip install psycopg2-binary'),
        ('postgresql+psycopg://app@127.0.0.1:1/x', 'psycopg', "pip install 'psycopg[binary]'"),
        ('postgresql+pg8000://app@127.0.0.1:1/x', 'pg8000', 'pip install pg8000'),
    ],
)
def test_a_missing_driver_is_named_with_the_package_that_brings_it(capsys, monkeypatch, url, missing, install):
    monkeypatch.setitem(sys.modules, missing, None)
    assert main(['--url', url, 'list']) == 1
    err = error_line(capsys.readouterr().err)
    assert f'"{install}"' in err and 'not installed' in err
    assert 'mortar_rdb[' not in err


def test_the_default_postgresql_driver_is_advised_as_sqlalchemy_chooses_it(capsys, monkeypatch):
    driver = make_url('postgresql://x').get_driver_name()  # psycopg2 on SQLAlchemy 2.0, psycopg on 2.1
    module, package = {'psycopg2': ('psycopg2', 'psycopg2-binary'), 'psycopg': ('psycopg', "'psycopg[binary]'")}[driver]
    monkeypatch.setitem(sys.modules, module, None)
    assert main(['--url', 'postgresql://app@127.0.0.1:1/x', 'list']) == 1
    assert f'"pip install {package}"' in error_line(capsys.readouterr().err)


def test_no_install_advice_names_mortar_rdb_extras_which_the_index_does_not_have():
    """The index's mortar_rdb is the retired 3.0.0: ``pip install "mortar_rdb[...]"`` installs it."""
    root = Path(__file__).parent.parent
    pages = [root / 'README.rst', *root.glob('docs/*.rst'), *root.glob('src/**/*.py')]
    extra = re.compile(r'mortar_rdb\[[a-z]')  # an extra named, not the "mortar_rdb[...]" that warns of them
    advising = [str(page.relative_to(root)) for page in pages if extra.search(page.read_text())]
    assert advising == []
