"""The command line started with stdout or stderr closed (``>&-``, ``2>&-``)."""
import os
import subprocess
import sys

import pytest

from tests.databases import only_on


def started_without(descriptor, db_url, *arguments):
    """Run the command line as a process whose ``descriptor`` is closed; return (status, the other stream)."""
    other = subprocess.PIPE
    done = subprocess.run(
        [sys.executable, '-m', 'mortar_rdb.sequence', '--url', db_url, *arguments],
        stdout=other if descriptor == 2 else None,
        stderr=other if descriptor == 1 else None,
        preexec_fn=lambda: os.close(descriptor),
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout if descriptor == 2 else done.stderr


def current(db_url, *arguments):
    done = subprocess.run(
        [sys.executable, '-m', 'mortar_rdb.sequence', '--url', db_url, 'current', *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def test_next_with_stdout_closed_says_so_in_one_line_and_takes_nothing(db_url):
    subprocess.run([sys.executable, '-m', 'mortar_rdb.sequence', '--url', db_url, 'next', 'invoices', '--create'])
    status, err = started_without(1, db_url, 'next', 'invoices')
    assert status == 1
    assert 'Traceback' not in err and err.count('\n') == 1
    assert err.startswith('error: standard output is closed') and 'nothing was taken' in err
    assert current(db_url, 'invoices') == '1\n'


@only_on('postgresql', 'mariadb')
def test_next_native_with_stdout_closed_spends_no_value(db_url):
    subprocess.run(
        [sys.executable, '-m', 'mortar_rdb.sequence', '--url', db_url, 'next', 'orders', '--impl', 'native', '--create']
    )
    status, err = started_without(1, db_url, 'next', 'orders', '--impl', 'native')
    assert status == 1 and 'Traceback' not in err
    assert current(db_url, 'orders', '--impl', 'native') == '1\n'


def test_a_failure_with_stderr_closed_writes_nothing_to_stdout(db_url):
    subprocess.run([sys.executable, '-m', 'mortar_rdb.sequence', '--url', db_url, 'create-table'])
    assert started_without(2, db_url, 'current', 'nosuch') == (1, '')


def test_values_with_stderr_closed_are_the_only_output(db_url):
    assert started_without(2, db_url, 'next', 'invoices', '--create', '--count', '2') == (0, '1\n2\n')


@pytest.mark.parametrize('arguments', [['list'], ['drop', 'invoices'], ['create-table']])
def test_other_commands_with_stdout_closed_do_nothing_and_say_so(db_url, arguments):
    subprocess.run([sys.executable, '-m', 'mortar_rdb.sequence', '--url', db_url, 'next', 'invoices', '--create'])
    status, err = started_without(1, db_url, *arguments)
    assert status == 1 and err.startswith('error: standard output is closed') and 'nothing was done' in err
    assert current(db_url, 'invoices') == '1\n'
