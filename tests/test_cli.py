"""The command line, run in-process with main() and as a real process."""
import json
import os
import pty
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Sequence, create_engine, make_url, text

import mortar_rdb.sequence._cli.terminal as terminal
from mortar_rdb.sequence.__main__ import main
from tests.databases import on_servers, only_on
from tests.helpers import make_mortar3_table, stored_values

#: Python advice that the command line must translate into commands and flags.
PYTHON_ADVICE = [
    'sequences.create(engine)',
    'transaction.manager',
    'impl=',
    'pool_pre_ping',
    'force=True',
    'register_sequence',
]


@pytest.fixture
def run(db_url, capsys):
    """Run the command line on the test database; return (status, stdout, stderr)."""

    def run(*arguments):
        status = main(['--url', db_url, *arguments])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def error_line(err):
    """The one line of a failed command, which must not be a traceback."""
    assert 'Traceback' not in err
    assert err.count('\n') == 1, err
    assert err.startswith('error: ')
    assert not [advice for advice in PYTHON_ADVICE if advice in err], err
    return err


def test_next_with_create_prints_1_then_2_creating_the_table_and_the_sequence(run):
    assert run('next', 'invoices', '--create') == (0, '1\n', '')
    assert run('next', 'invoices', '--create') == (0, '2\n', '')
    assert run('next', 'invoices') == (0, '3\n', '')


def test_next_with_count_prints_one_value_per_line(run):
    run('next', 'invoices', '--create')
    assert run('next', 'invoices', '--count', '3') == (0, '2\n3\n4\n', '')


def test_current_prints_the_last_value_without_taking_one(run):
    run('next', 'invoices', '--count', '5', '--create')
    assert run('current', 'invoices') == (0, '5\n', '')
    assert run('next', 'invoices') == (0, '6\n', '')


def test_current_prints_none_before_the_first_value(run):
    run('next', 'orders', '--create')
    run('restart', 'orders', '1', '--force')
    assert run('current', 'orders') == (0, 'none\n', '')


def test_list_prints_every_name_and_value_sorted_by_name(run):
    run('next', 'orders', '--count', '3', '--create')
    run('next', 'invoices', '--create')
    assert run('list') == (0, 'invoices\t1\norders\t3\n', '')


def test_list_of_an_empty_table_prints_nothing(run):
    run('create-table')
    assert run('list') == (0, '', '')


def test_restart_sets_the_next_value(run):
    run('next', 'invoices', '--create')
    status, out, err = run('restart', 'invoices', '1000')
    assert (status, err) == (0, '')
    assert run('next', 'invoices') == (0, '1000\n', '')


def test_restart_refuses_to_move_backwards(run):
    run('next', 'invoices', '--count', '10', '--create')
    status, out, err = run('restart', 'invoices', '5')
    assert status == 1
    assert '--force' in error_line(err)
    assert run('next', 'invoices') == (0, '11\n', '')


def test_restart_moves_backwards_with_force(run):
    run('next', 'invoices', '--count', '10', '--create')
    assert run('restart', 'invoices', '5', '--force')[0] == 0
    assert run('next', 'invoices') == (0, '5\n', '')


def test_drop_deletes_the_sequence(run):
    run('next', 'invoices', '--count', '3', '--create')
    assert run('drop', 'invoices') == (0, 'dropped invoices\n', '')
    assert run('list') == (0, '', '')
    assert run('next', 'invoices', '--create') == (0, '1\n', '')


def test_create_table_creates_it_once(run):
    status, out, err = run('create-table')
    assert (status, err) == (0, '') and out.startswith('created the sequences table')
    status, out, err = run('create-table')
    assert (status, err) == (0, '') and out.startswith('the sequences table already exists')


def test_create_table_points_at_upgrade_table_for_a_mortar3_table(db_url, run):
    make_mortar3_table(db_url)
    status, out, err = run('create-table')
    assert status == 0 and 'run upgrade-table' in out


def test_upgrade_table_of_a_mortar3_table_holding_41_makes_the_next_value_42(db_url, run):
    make_mortar3_table(db_url)
    status, out, err = run('upgrade-table')
    assert (status, err) == (0, '') and out.startswith('upgraded the sequences table')
    assert run('next', 'invoices') == (0, '42\n', '')


def test_upgrade_table_of_a_current_table_does_nothing(run):
    run('next', 'invoices', '--create')
    status, out, err = run('upgrade-table')
    assert (status, err) == (0, '') and 'already current' in out
    assert run('next', 'invoices') == (0, '2\n', '')


@pytest.mark.parametrize('command', [['current', 'nope'], ['restart', 'nope', '5'], ['drop', 'nope']])
def test_an_unknown_name_is_one_line_saying_what_to_do(run, command):
    run('create-table')
    status, out, err = run(*command)
    assert status == 1 and out == ''
    assert "no sequence named 'nope'" in error_line(err)
    assert '"list"' in err


@pytest.mark.parametrize(
    'command',
    [['list'], ['current', 'invoices'], ['restart', 'invoices', '5'], ['drop', 'invoices'], ['upgrade-table']],
)
def test_a_missing_table_is_one_line_pointing_at_create_table(run, command):
    status, out, err = run(*command)
    assert status == 1 and out == ''
    assert 'create-table' in error_line(err)


@pytest.mark.parametrize('value', ['x', '0', '-3', '1.5', str(2**63)])
def test_a_bad_value_is_one_line_and_status_2(run, capsys, value):
    with pytest.raises(SystemExit) as info:
        run('restart', 'invoices', value)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count('\n') == 1 and 'value' in err and '--help' in err


def test_a_bad_count_is_one_line_and_status_2(run, capsys):
    with pytest.raises(SystemExit) as info:
        run('next', 'invoices', '--count', '0', '--create')
    assert info.value.code == 2
    assert capsys.readouterr().err.count('\n') == 1


def test_a_name_too_long_for_the_table_is_one_line(run):
    status, out, err = run('next', 'n' * 256, '--create')
    assert status == 1
    assert 'at most 255' in error_line(err)


@pytest.mark.parametrize('count', ['0', str(2**63), 'many'])
def test_a_bad_count_is_status_2_like_a_bad_value(run, capsys, count):
    with pytest.raises(SystemExit) as info:
        run('next', 'invoices', '--count', count)
    assert info.value.code == 2
    assert capsys.readouterr().err.count('\n') == 1


@pytest.mark.parametrize('timeout', ['0', '-1', 'soon'])
def test_a_bad_timeout_is_status_2(run, capsys, timeout):
    with pytest.raises(SystemExit) as info:
        run('list', '--timeout', timeout)
    assert info.value.code == 2
    assert capsys.readouterr().err.count('\n') == 1


@pytest.mark.parametrize('name', ['', 'a\x00b'])
def test_a_name_no_sequence_can_have_is_status_2(run, capsys, name):
    with pytest.raises(SystemExit) as info:
        run('next', name, '--create')
    assert info.value.code == 2
    assert capsys.readouterr().err.count('\n') == 1


@on_servers
def test_a_value_past_a_mortar3_tables_largest_is_refused_with_status_1(db_url, run):
    make_mortar3_table(db_url)
    status, out, err = run('restart', 'invoices', str(2**31))
    assert status == 1
    assert 'between 1 and 2147483647' in error_line(err) and '"upgrade-table" widens it' in err


@pytest.mark.parametrize(
    'url, says',
    [
        ('postgresql+psycopg://postgres@127.0.0.1:1/nowhere', 'check the URL'),
        ('mysql+pymysql://root@127.0.0.1:1/nowhere', 'check the URL'),
        ('sqlite:////no/such/directory/x.db', 'check the URL'),
        ('not a url', 'is not a database URL'),
        ('nosuchdb://x', 'names no database'),
        ('mysql+mysqldb://root@127.0.0.1/x', 'not installed'),
    ],
)
def test_an_unusable_database_is_one_line(capsys, url, says):
    assert main(['--url', url, 'list']) == 1
    err = capsys.readouterr().err
    assert says in error_line(err)


def test_url_comes_from_the_environment(db_url, capsys, monkeypatch):
    monkeypatch.setenv('MORTAR_RDB_URL', db_url)
    assert main(['next', 'invoices', '--create']) == 0
    assert main(['--url', db_url, 'current', 'invoices']) == 0
    assert capsys.readouterr().out == '1\n1\n'


def test_url_may_follow_the_command(db_url, capsys):
    assert main(['next', 'invoices', '--create', '--url', db_url]) == 0
    assert main(['--url', db_url, 'next', 'invoices']) == 0
    assert capsys.readouterr().out == '1\n2\n'


def test_the_default_is_sequences_db_in_the_current_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('MORTAR_RDB_URL', raising=False)
    assert main(['next', 'invoices', '--create']) == 0
    assert (tmp_path / 'sequences.db').exists()


@pytest.mark.parametrize(
    'command', ['create-table', 'list', 'next', 'current', 'restart', 'drop', 'upgrade-table']
)
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, '--help'])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert 'usage:' in out
    assert f'example: python -m mortar_rdb.sequence {command}' in out


def test_a_real_process_prints_1_then_2_then_fails_in_one_line(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != 'MORTAR_RDB_URL'}

    def run(*arguments):
        return subprocess.run(
            [sys.executable, '-m', 'mortar_rdb.sequence', *arguments],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run('next', 'invoices', '--create').stdout == '1\n'
    assert run('next', 'invoices', '--create').stdout == '2\n'
    failed = run('current', 'orders')
    assert failed.returncode == 1 and failed.stdout == ''
    assert error_line(failed.stderr)


def test_a_real_process_upgrades_a_mortar3_table(db_url):
    make_mortar3_table(db_url)
    environment = {**os.environ, 'MORTAR_RDB_URL': db_url}
    for command, printed in [(['upgrade-table'], 'upgraded'), (['next', 'invoices'], '42\n')]:
        done = subprocess.run(
            [sys.executable, '-m', 'mortar_rdb.sequence', *command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert printed in done.stdout


def test_the_mortar_sequence_script_runs_the_same_command_line(tmp_path):
    script = Path(sys.executable).with_name('mortar-sequence')
    if not script.exists():
        pytest.skip('the package is not installed with its console scripts here')
    environment = {key: value for key, value in os.environ.items() if key != 'MORTAR_RDB_URL'}
    done = subprocess.run(
        [str(script), 'next', 'invoices', '--count', '2', '--create'],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, '1\n2\n', '')
    helped = subprocess.run([str(script), '--help'], capture_output=True, text=True, timeout=120)
    assert helped.stdout.startswith('usage: mortar-sequence')


# --impl native: the database's own sequences -----------------------------------



@on_servers
def test_native_next_creates_the_sequence_and_prints_values(run):
    assert run('next', 'invoices', '--impl', 'native', '--create') == (0, '1\n', '')
    assert run('next', 'invoices', '--impl', 'native', '--count', '3') == (0, '2\n3\n4\n', '')


@on_servers
def test_native_and_generic_sequences_of_one_name_are_apart(run):
    run('next', 'invoices', '--impl', 'native', '--count', '5', '--create')
    assert run('next', 'invoices', '--create') == (0, '1\n', '')


@on_servers
def test_native_current_prints_the_last_value_without_taking_one(run):
    run('next', 'invoices', '--impl', 'native', '--count', '5', '--create')
    assert run('current', 'invoices', '--impl', 'native') == (0, '5\n', '')
    assert run('next', 'invoices', '--impl', 'native') == (0, '6\n', '')


@on_servers
def test_native_restart_sets_the_next_value(run):
    run('next', 'invoices', '--impl', 'native', '--create')
    assert run('restart', 'invoices', '1000', '--impl', 'native') == (0, 'invoices: the next value is 1000\n', '')
    assert run('next', 'invoices', '--impl', 'native') == (0, '1000\n', '')


@on_servers
def test_native_restart_refuses_to_move_backwards_unless_forced(run):
    run('next', 'invoices', '--impl', 'native', '--count', '10', '--create')
    status, out, err = run('restart', 'invoices', '5', '--impl', 'native')
    assert status == 1 and '--force' in error_line(err)
    assert run('restart', 'invoices', '5', '--impl', 'native', '--force')[0] == 0
    assert run('next', 'invoices', '--impl', 'native') == (0, '5\n', '')


@on_servers
def test_native_restart_behind_an_open_transaction_gives_up_after_the_timeout_saying_so(db_url, run):
    run('next', 'invoices', '--impl', 'native', '--create')
    engine = create_engine(db_url)
    try:
        with engine.connect() as holder:
            holder.execute(Sequence('invoices').next_value())  # holds the sequence until it ends
            started = time.monotonic()
            status, out, err = run('restart', 'invoices', '5', '--impl', 'native', '--force', '--timeout', '1')
            waited = time.monotonic() - started
            holder.rollback()
    finally:
        engine.dispose()
    assert (status, out) == (1, '')
    assert "restarting the native sequence 'invoices' waited 1 second for a lock" in error_line(err)
    assert waited < 8


@on_servers
def test_native_list_prints_every_native_sequence(run):
    run('next', 'orders', '--impl', 'native', '--count', '3', '--create')
    run('next', 'invoices', '--impl', 'native', '--create')
    run('next', 'generic_only', '--create')
    assert run('list', '--impl', 'native') == (0, 'invoices\t1\norders\t3\n', '')


@on_servers
def test_native_drop_drops_the_sequence(run):
    run('next', 'invoices', '--impl', 'native', '--count', '3', '--create')
    assert run('drop', 'invoices', '--impl', 'native') == (0, 'dropped invoices\n', '')
    assert run('list', '--impl', 'native') == (0, '', '')
    assert run('next', 'invoices', '--impl', 'native', '--create') == (0, '1\n', '')


@on_servers
@pytest.mark.parametrize('command', [['current', 'nope'], ['restart', 'nope', '5'], ['drop', 'nope']])
def test_native_unknown_name_is_one_line_pointing_at_impl_native(run, command):
    status, out, err = run(*command, '--impl', 'native')
    assert status == 1 and out == ''
    assert "no sequence named 'nope'" in error_line(err)
    assert '"list --impl native"' in err and '"next nope --impl native --create"' in err


@only_on('sqlite')
@pytest.mark.parametrize(
    'command',
    [['next', 'invoices'], ['current', 'invoices'], ['restart', 'invoices', '5'], ['drop', 'invoices'], ['list']],
)
def test_native_on_sqlite_is_one_line_saying_there_are_no_native_sequences(run, command):
    run('create-table')
    status, out, err = run(*command, '--impl', 'native')
    assert status == 1 and out == ''
    assert 'SQLite has no native sequences' in error_line(err)
    assert 'leave out --impl native' in err and 'impl=' not in err


def test_an_unknown_impl_is_one_line_and_status_2(run, capsys):
    with pytest.raises(SystemExit) as info:
        run('next', 'invoices', '--impl', 'pooled')
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count('\n') == 1 and '--impl' in err



# No number is spent unseen -----------------------------------------------------


def command_line(db_url, *arguments):
    return [sys.executable, '-m', 'mortar_rdb.sequence', '--url', db_url, *arguments]


def environment():
    return {key: value for key, value in os.environ.items() if key != 'MORTAR_RDB_URL'}


def test_next_writes_its_values_before_it_commits(db_url, run, monkeypatch):
    run('next', 'invoices', '--create')
    stored_while_writing = []

    def write(text):
        stored_while_writing.append(stored_values(db_url)['invoices'])  # another connection
        raise terminal.WriteFailed(BrokenPipeError(32, 'Broken pipe'))

    monkeypatch.setattr(terminal, 'write', write)
    status, out, err = run('next', 'invoices', '--count', '3')
    monkeypatch.undo()
    assert stored_while_writing == [1]
    assert status == 1 and 'none were taken' in error_line(err)
    assert stored_values(db_url)['invoices'] == 1


def test_a_closed_pipe_gives_the_values_back_and_ends_in_one_line(db_url, run):
    run('next', 'invoices', '--create')
    reading, writing = os.pipe()
    os.close(reading)
    try:
        done = subprocess.run(
            command_line(db_url, 'next', 'invoices', '--count', '3'),
            stdout=writing, stderr=subprocess.PIPE, env=environment(), text=True, timeout=120,
        )
    finally:
        os.close(writing)
    assert done.returncode == 1
    assert 'the output was closed before the values were written; none were taken' in error_line(done.stderr)
    assert run('current', 'invoices') == (0, '1\n', '')


def test_next_prints_a_large_batch_whole(run):
    run('next', 'invoices', '--create')
    status, out, err = run('next', 'invoices', '--count', '25001')
    assert (status, err) == (0, '')
    assert out == ''.join(f'{value}\n' for value in range(2, 25003))


def test_a_reader_that_stops_after_two_lines_gets_the_rest_given_back(db_url, run):
    """next invoices --count 100000 | head -2"""
    run('next', 'invoices', '--create')
    process = subprocess.Popen(
        command_line(db_url, 'next', 'invoices', '--count', '100000'),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(),
    )
    assert [process.stdout.readline(), process.stdout.readline()] == [b'2\n', b'3\n']
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1
    assert 'none were taken' in error_line(err)
    assert run('current', 'invoices') == (0, '1\n', '')


def test_a_full_disk_gives_the_values_back(db_url, run):
    run('next', 'invoices', '--create')
    with open('/dev/full', 'w') as full:
        done = subprocess.run(
            command_line(db_url, 'next', 'invoices', '--count', '3'),
            stdout=full, stderr=subprocess.PIPE, env=environment(), text=True, timeout=120,
        )
    assert done.returncode == 1
    assert 'could not write the values (No space left on device); none were taken' in error_line(done.stderr)
    assert run('current', 'invoices') == (0, '1\n', '')


def test_a_closed_pipe_after_list_ends_quietly(db_url, run):
    run('next', 'invoices', '--create')
    reading, writing = os.pipe()
    os.close(reading)
    try:
        done = subprocess.run(
            command_line(db_url, 'list'), stdout=writing, stderr=subprocess.PIPE, env=environment(), timeout=120
        )
    finally:
        os.close(writing)
    assert (done.returncode, done.stderr) == (1, b'')


# No silent creation --------------------------------------------------------------


def test_next_without_create_names_the_missing_sequence_and_how_to_create_it(run):
    run('next', 'invoices', '--create')
    status, out, err = run('next', 'invoicse')
    assert (status, out) == (1, '')
    assert "no sequence named 'invoicse'" in error_line(err)
    assert '"next invoicse --create"' in err
    assert run('list') == (0, 'invoices\t1\n', '')


def test_next_without_create_names_the_missing_table_and_how_to_create_it(db_url, run):
    url = make_url(db_url)
    if url.get_backend_name() == 'sqlite':
        sqlite3.connect(url.database).execute('CREATE TABLE unrelated (x INTEGER)')  # a database, no table
    status, out, err = run('next', 'invoices')
    assert (status, out) == (1, '')
    assert 'there is no sequences table' in error_line(err)
    assert '"next invoices --create"' in err


@pytest.mark.parametrize('command', [['list'], ['current', 'invoices'], ['next', 'invoices']])
def test_commands_that_create_nothing_leave_no_sqlite_file_behind(tmp_path, capsys, command):
    url = f'sqlite:///{tmp_path}/typo.db'
    assert main(['--url', url, *command]) == 1
    err = capsys.readouterr().err
    assert 'there is no database file' in error_line(err)
    assert not (tmp_path / 'typo.db').exists()


def test_next_with_create_on_a_fresh_directory_prints_1_then_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('MORTAR_RDB_URL', raising=False)
    assert main(['next', 'invoices', '--create']) == 0
    assert main(['next', 'invoices', '--create']) == 0
    assert capsys.readouterr().out == '1\n2\n'


# No silent waits -------------------------------------------------------------------


@contextmanager
def held(db_url, name='invoices'):
    """Another transaction holding sequence ``name``'s row; on SQLite, the write
    lock of the whole file, taken by a write to an unrelated table."""
    url = make_url(db_url)
    if url.get_backend_name() == 'sqlite':
        other = sqlite3.connect(url.database, isolation_level=None)
        other.execute('CREATE TABLE IF NOT EXISTS unrelated (x INTEGER)')
        other.execute('BEGIN IMMEDIATE')
        other.execute('INSERT INTO unrelated VALUES (1)')
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(text('SELECT current FROM sequences WHERE name = :name FOR UPDATE'), {'name': name})
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def test_a_held_lock_ends_in_one_line_saying_what_was_waited_for(db_url, run):
    run('next', 'invoices', '--create')
    with held(db_url):
        started = time.monotonic()
        status, out, err = run('next', 'invoices', '--timeout', '1')
        waited = time.monotonic() - started
    assert (status, out) == (1, '')
    if db_url.startswith('sqlite'):
        assert 'stayed locked by another writer for 1 second' in error_line(err)
        assert 'same sequence' not in err
    else:
        assert "another transaction held a lock on sequence 'invoices' for 1 second" in error_line(err)
    assert '--timeout' in err
    assert waited < 15
    assert run('current', 'invoices') == (0, '1\n', '')


@pytest.fixture
def silent_server():
    """A port on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.parametrize('scheme', ['postgresql+psycopg://postgres', 'mysql+pymysql://root'])
def test_a_server_that_never_answers_ends_in_one_line(silent_server, capsys, scheme):
    url = f'{scheme}@127.0.0.1:{silent_server}/nowhere'
    started = time.monotonic()
    assert main(['--url', url, 'list', '--timeout', '1']) == 1
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err
    assert f'the database server at {url} did not answer within 1 second' in error_line(err)
    assert '--timeout' in err


def read_terminal(master, until, seconds=60):
    """What a pseudo-terminal shows, up to ``until`` (or the end)."""
    shown = b''
    deadline = time.monotonic() + seconds
    while until.encode() not in shown and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            shown += chunk
    return shown.decode().replace('\r\n', '\n')


def test_ctrl_c_while_waiting_on_a_terminal_says_what_it_waits_for_rolls_back_and_exits_130(db_url, run):
    run('next', 'invoices', '--create')
    # SQLite hears Ctrl-C only when its own wait ends; the servers at once.
    timeout = '5' if db_url.startswith('sqlite') else '60'
    master, slave = pty.openpty()
    with held(db_url):
        process = subprocess.Popen(
            command_line(db_url, 'next', 'invoices', '--timeout', timeout),
            stdout=subprocess.PIPE, stderr=slave, env=environment(),
        )
        os.close(slave)
        notice = read_terminal(master, 'Ctrl-C stops)')
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
        rest = read_terminal(master, 'nothing was committed')
    os.close(master)
    assert notice.startswith('waiting for ')
    if db_url.startswith('sqlite'):
        assert 'which another writer may have locked' in notice
    else:
        assert "sequence 'invoices'" in notice and 'which another transaction may hold' in notice
    assert (process.returncode, out) == (130, b'')
    assert 'Traceback' not in rest
    assert rest.strip() == 'error: interrupted; nothing was committed'
    assert run('current', 'invoices') == (0, '1\n', '')


# Conventions -----------------------------------------------------------------------


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(['--version'])
    assert info.value.code == 0
    assert capsys.readouterr().out == f'python -m mortar_rdb.sequence {version("mortar_rdb")}\n'


def test_next_json_is_one_document_naming_the_values(run):
    status, out, err = run('next', 'invoices', '--count', '2', '--create', '--json')
    assert (status, err) == (0, '')
    assert json.loads(out) == {'name': 'invoices', 'values': [1, 2]}


def test_current_json_is_one_document(run):
    run('create-table')
    run('next', 'invoices', '--create')
    assert json.loads(run('current', 'invoices', '--json')[1]) == {'name': 'invoices', 'current': 1}


def test_list_json_is_one_document_listing_every_sequence(run):
    run('next', 'b', '--count', '2', '--create')
    run('next', 'a', '--create')
    run('restart', 'a', '1', '--force')
    assert json.loads(run('list', '--json')[1]) == [{'name': 'a', 'current': None}, {'name': 'b', 'current': 2}]


def test_list_keeps_one_line_per_sequence_whatever_the_name(run):
    names = ['plain', 'tab\there', 'new\nline', '"quoted', 'sep\u2028arator', 'caf\u00e9']
    for name in names:
        assert run('next', name, '--create')[0] == 0
    status, out, err = run('list')
    lines = out.splitlines()
    assert (status, len(lines)) == (0, len(names))
    shown = {}
    for line in lines:
        name, value = line.rsplit('\t', 1)
        shown[json.loads(name) if name.startswith('"') else name] = value
    assert shown == {name: '1' for name in names}
    assert 'plain\t1' in lines and 'caf\u00e9\t1' in lines


# Messages that tell the truth ------------------------------------------------------


def test_a_batch_larger_than_what_is_left_says_how_many_are_left(run):
    run('next', 'bulk', '--create')
    run('restart', 'bulk', str(2**63 - 3))
    status, out, err = run('next', 'bulk', '--count', '5')
    assert (status, out) == (1, '')
    assert "sequence 'bulk' has only 3 values left" in error_line(err)
    assert 'take at most 3 with --count' in err and 'new sequence' not in err
    assert run('next', 'bulk', '--count', '3') == (0, f'{2**63 - 3}\n{2**63 - 2}\n{2**63 - 1}\n', '')
    status, out, err = run('next', 'bulk')
    assert 'has reached 9223372036854775807' in error_line(err)


def test_a_name_too_long_for_a_mortar3_table_names_upgrade_table(db_url, run):
    make_mortar3_table(db_url)
    status, out, err = run('next', 'n' * 21, '--create')
    assert status == 1
    assert 'at most 20' in error_line(err) and '"upgrade-table"' in err


def test_a_refused_restart_speaks_of_force_as_a_flag(run):
    run('next', 'invoices', '--count', '3', '--create')
    status, out, err = run('restart', 'invoices', '2')
    assert 'add --force' in error_line(err)


@on_servers
def test_a_closed_pipe_after_native_next_says_the_values_are_spent(db_url, run):
    run('next', 'invoices', '--impl', 'native', '--create')
    reading, writing = os.pipe()
    os.close(reading)
    try:
        done = subprocess.run(
            command_line(db_url, 'next', 'invoices', '--impl', 'native', '--count', '3'),
            stdout=writing, stderr=subprocess.PIPE, env=environment(), text=True, timeout=120,
        )
    finally:
        os.close(writing)
    assert done.returncode == 1
    assert 'native sequences cannot give values back, so those values are spent' in error_line(done.stderr)
    assert run('current', 'invoices', '--impl', 'native') == (0, '4\n', '')


# The URLs docs/commandline.rst gives for bounding waits from Python -------------------

OPERATIONS = Path(__file__).parent.parent / 'docs' / 'commandline.rst'


def documented_url(backend):
    """The documented URL for ``backend``, as written in docs/commandline.rst."""
    lines = OPERATIONS.read_text().splitlines()
    start = lines.index('Bounding waits from Python')
    prefixes = {'sqlite': 'sqlite:', 'postgresql': 'postgresql+psycopg:', 'mysql': 'mysql+pymysql:'}
    return next(line.strip() for line in lines[start:] if line.strip().startswith(prefixes[backend]))


def test_the_documented_urls_bound_every_wait(db_url, tmp_path):
    url = make_url(db_url)
    backend = url.get_backend_name()
    documented = documented_url(backend)
    if backend == 'sqlite':
        documented = documented.replace('sequences.db', str(tmp_path / 'sequences.db'))
    else:
        documented = documented.replace('app@db.example.com/app', db_url.split('://', 1)[1].split('?')[0])
    engine = create_engine(documented)
    try:
        arguments = engine.dialect.create_connect_args(engine.url)[1]
        with engine.connect() as connection:
            if backend == 'sqlite':
                assert arguments['timeout'] == 10
            elif backend == 'postgresql':
                assert arguments['connect_timeout'] == '10'
                assert connection.exec_driver_sql('SHOW lock_timeout').scalar() == '10s'
                assert connection.exec_driver_sql('SHOW statement_timeout').scalar() == '11s'
            else:
                assert (arguments['connect_timeout'], arguments['read_timeout'], arguments['write_timeout']) == (
                    10,
                    12,
                    12,
                )
                waits = connection.exec_driver_sql(
                    'SELECT @@innodb_lock_wait_timeout, @@lock_wait_timeout, @@max_statement_time'
                ).one()
                assert tuple(waits) == (10, 10, 11)
    finally:
        engine.dispose()
