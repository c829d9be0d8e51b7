"""The command line, run in-process with main() and once as a real process."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mortar_rdb.sequence.__main__ import main
from tests.databases import on_servers, only_on
from tests.helpers import make_mortar3_table


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
    return err


def test_next_prints_1_then_2_creating_the_table_and_the_sequence(run):
    assert run('next', 'invoices') == (0, '1\n', '')
    assert run('next', 'invoices') == (0, '2\n', '')


def test_next_with_count_prints_one_value_per_line(run):
    run('next', 'invoices')
    assert run('next', 'invoices', '--count', '3') == (0, '2\n3\n4\n', '')


def test_current_prints_the_last_value_without_taking_one(run):
    run('next', 'invoices', '--count', '5')
    assert run('current', 'invoices') == (0, '5\n', '')
    assert run('next', 'invoices') == (0, '6\n', '')


def test_current_prints_none_before_the_first_value(run):
    run('next', 'orders')
    run('restart', 'orders', '1', '--force')
    assert run('current', 'orders') == (0, 'none\n', '')


def test_list_prints_every_name_and_value_sorted_by_name(run):
    run('next', 'orders', '--count', '3')
    run('next', 'invoices')
    assert run('list') == (0, 'invoices\t1\norders\t3\n', '')


def test_list_of_an_empty_table_prints_nothing(run):
    run('create-table')
    assert run('list') == (0, '', '')


def test_restart_sets_the_next_value(run):
    run('next', 'invoices')
    status, out, err = run('restart', 'invoices', '1000')
    assert (status, err) == (0, '')
    assert run('next', 'invoices') == (0, '1000\n', '')


def test_restart_refuses_to_move_backwards(run):
    run('next', 'invoices', '--count', '10')
    status, out, err = run('restart', 'invoices', '5')
    assert status == 1
    assert '--force' in error_line(err)
    assert run('next', 'invoices') == (0, '11\n', '')


def test_restart_moves_backwards_with_force(run):
    run('next', 'invoices', '--count', '10')
    assert run('restart', 'invoices', '5', '--force')[0] == 0
    assert run('next', 'invoices') == (0, '5\n', '')


def test_drop_deletes_the_sequence(run):
    run('next', 'invoices', '--count', '3')
    assert run('drop', 'invoices') == (0, 'dropped invoices\n', '')
    assert run('list') == (0, '', '')
    assert run('next', 'invoices') == (0, '1\n', '')


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
    run('next', 'invoices')
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


@pytest.mark.parametrize('value', ['x', '0', '-3', '1.5'])
def test_a_bad_value_is_one_line_and_status_2(run, capsys, value):
    with pytest.raises(SystemExit) as info:
        run('restart', 'invoices', value)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count('\n') == 1 and 'value' in err and '--help' in err


def test_a_bad_count_is_one_line_and_status_2(run, capsys):
    with pytest.raises(SystemExit) as info:
        run('next', 'invoices', '--count', '0')
    assert info.value.code == 2
    assert capsys.readouterr().err.count('\n') == 1


def test_a_name_too_long_for_the_table_is_one_line(run):
    status, out, err = run('next', 'n' * 256)
    assert status == 1
    assert 'at most 255' in error_line(err)


def test_a_value_past_the_largest_is_one_line(run):
    run('next', 'invoices')
    status, out, err = run('restart', 'invoices', str(2**63))
    assert status == 1
    assert 'between 1 and' in error_line(err)


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
    assert main(['next', 'invoices']) == 0
    assert main(['--url', db_url, 'current', 'invoices']) == 0
    assert capsys.readouterr().out == '1\n1\n'


def test_url_may_follow_the_command(db_url, capsys):
    assert main(['next', 'invoices', '--url', db_url]) == 0
    assert main(['--url', db_url, 'next', 'invoices']) == 0
    assert capsys.readouterr().out == '1\n2\n'


def test_the_default_is_sequences_db_in_the_current_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('MORTAR_RDB_URL', raising=False)
    assert main(['next', 'invoices']) == 0
    assert (tmp_path / 'sequences.db').exists()


@pytest.mark.parametrize(
    'command', ['create-table', 'list', 'next', 'current', 'restart', 'drop', 'upgrade-table']
)
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as info:
        main([command, '--help'])
    assert info.value.code == 0
    assert 'usage:' in capsys.readouterr().out


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

    assert run('next', 'invoices').stdout == '1\n'
    assert run('next', 'invoices').stdout == '2\n'
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
        [str(script), 'next', 'invoices', '--count', '2'],
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
    assert run('next', 'invoices', '--impl', 'native') == (0, '1\n', '')
    assert run('next', 'invoices', '--impl', 'native', '--count', '3') == (0, '2\n3\n4\n', '')


@on_servers
def test_native_and_generic_sequences_of_one_name_are_apart(run):
    run('next', 'invoices', '--impl', 'native', '--count', '5')
    assert run('next', 'invoices') == (0, '1\n', '')


@on_servers
def test_native_current_prints_the_last_value_without_taking_one(run):
    run('next', 'invoices', '--impl', 'native', '--count', '5')
    assert run('current', 'invoices', '--impl', 'native') == (0, '5\n', '')
    assert run('next', 'invoices', '--impl', 'native') == (0, '6\n', '')


@on_servers
def test_native_restart_sets_the_next_value(run):
    run('next', 'invoices', '--impl', 'native')
    assert run('restart', 'invoices', '1000', '--impl', 'native') == (0, 'invoices: the next value is 1000\n', '')
    assert run('next', 'invoices', '--impl', 'native') == (0, '1000\n', '')


@on_servers
def test_native_restart_refuses_to_move_backwards_unless_forced(run):
    run('next', 'invoices', '--impl', 'native', '--count', '10')
    status, out, err = run('restart', 'invoices', '5', '--impl', 'native')
    assert status == 1 and '--force' in error_line(err)
    assert run('restart', 'invoices', '5', '--impl', 'native', '--force')[0] == 0
    assert run('next', 'invoices', '--impl', 'native') == (0, '5\n', '')


@on_servers
def test_native_list_prints_every_native_sequence(run):
    run('next', 'orders', '--impl', 'native', '--count', '3')
    run('next', 'invoices', '--impl', 'native')
    run('next', 'generic_only')
    assert run('list', '--impl', 'native') == (0, 'invoices\t1\norders\t3\n', '')


@on_servers
def test_native_drop_drops_the_sequence(run):
    run('next', 'invoices', '--impl', 'native', '--count', '3')
    assert run('drop', 'invoices', '--impl', 'native') == (0, 'dropped invoices\n', '')
    assert run('list', '--impl', 'native') == (0, '', '')
    assert run('next', 'invoices', '--impl', 'native') == (0, '1\n', '')


@on_servers
@pytest.mark.parametrize('command', [['current', 'nope'], ['restart', 'nope', '5'], ['drop', 'nope']])
def test_native_unknown_name_is_one_line_pointing_at_impl_native(run, command):
    status, out, err = run(*command, '--impl', 'native')
    assert status == 1 and out == ''
    assert "no sequence named 'nope'" in error_line(err)
    assert '"list --impl native"' in err and '"next nope --impl native"' in err


@only_on('sqlite')
@pytest.mark.parametrize(
    'command',
    [['next', 'invoices'], ['current', 'invoices'], ['restart', 'invoices', '5'], ['drop', 'invoices'], ['list']],
)
def test_native_on_sqlite_is_one_line_saying_there_are_no_native_sequences(run, command):
    status, out, err = run(*command, '--impl', 'native')
    assert status == 1 and out == ''
    assert 'SQLite has no native sequences' in error_line(err)


def test_an_unknown_impl_is_one_line_and_status_2(run, capsys):
    with pytest.raises(SystemExit) as info:
        run('next', 'invoices', '--impl', 'pooled')
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.count('\n') == 1 and '--impl' in err
