"""A mortar_rdb 3.0 table's row whose ``current`` is NULL (3.0's column allowed it).

Its next value is unknown, so nothing may be handed out from it: every
operation that reads it raises SequenceValueUnset, naming the row and the
fix, and the command line's ``list`` shows it instead of failing.
"""
import json

import pytest
import transaction

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import generic, get_sequence, pooled, register_sequence
from mortar_rdb.sequence.__main__ import main
from mortar_rdb.sequence.errors import SequenceValueUnset
from tests.helpers import make_mortar3_table
from tests.test_cli import error_line

IMPLEMENTATIONS = {'generic': generic.SequenceImplementation, 'pooled': pooled.SequenceImplementation}


@pytest.fixture
def unset(db_url):
    """A 3.0 table holding 'invoices' at 41 and 'orders' at NULL, and a registered session on it."""
    make_mortar3_table(db_url, rows=(('invoices', 41), ('orders', None)))
    register_session(db_url)
    yield db_url
    transaction.abort()
    get_session().bind.dispose()


def test_the_error_names_the_row_and_the_fix():
    message = str(SequenceValueUnset('orders'))
    assert "'orders'" in message and 'NULL' in message and 'force=True' in message


@pytest.mark.parametrize('impl', IMPLEMENTATIONS)
def test_registering_a_sequence_whose_row_holds_null_raises_our_error(unset, impl):
    with pytest.raises(SequenceValueUnset) as raised, transaction.manager:
        register_sequence('orders', get_session(), IMPLEMENTATIONS[impl])
    assert raised.value.name == 'orders'


def test_next_of_a_row_holding_null_raises_our_error_and_changes_nothing(unset):
    sequence = generic.SequenceImplementation.for_existing('orders')
    with pytest.raises(SequenceValueUnset), transaction.manager:
        sequence.next(get_session())
    with pytest.raises(SequenceValueUnset), transaction.manager:
        sequence.next_many(get_session(), 3)


def test_current_of_a_row_holding_null_raises_our_error(unset):
    with pytest.raises(SequenceValueUnset), transaction.manager:
        generic.SequenceImplementation.for_existing('orders').current(get_session())


def test_a_forced_restart_sets_a_row_holding_null_and_it_goes_on_from_there(unset):
    sequence = generic.SequenceImplementation.for_existing('orders')
    with transaction.manager:
        with pytest.raises(SequenceValueUnset):
            sequence.restart(get_session(), 100)
    with transaction.manager:
        sequence.restart(get_session(), 100, force=True)
    with transaction.manager:
        register_sequence('orders', get_session())
    with transaction.manager:
        assert get_sequence('orders').next(get_session()) == 100


def test_other_rows_of_the_table_keep_working(unset):
    with transaction.manager:
        register_sequence('invoices', get_session())
    with transaction.manager:
        assert get_sequence('invoices').next(get_session()) == 42


def run(db_url, capsys, *arguments):
    status = main(['--url', db_url, *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_list_shows_a_row_holding_null_as_unset(unset, capsys):
    assert run(unset, capsys, 'list') == (0, 'invoices\t41\norders\tunset\n', '')


def test_list_json_marks_a_row_holding_null_as_unset(unset, capsys):
    status, out, err = run(unset, capsys, 'list', '--json')
    assert json.loads(out) == [
        {'name': 'invoices', 'current': 41},
        {'name': 'orders', 'current': None, 'unset': True},
    ]


@pytest.mark.parametrize('arguments', [['next', 'orders'], ['current', 'orders'], ['restart', 'orders', '5']])
def test_commands_on_a_row_holding_null_name_it_and_the_restart_that_sets_it(unset, capsys, arguments):
    status, out, err = run(unset, capsys, *arguments)
    assert (status, out) == (1, '')
    assert "sequence 'orders'" in error_line(err) and 'NULL' in err and '"restart orders VALUE --force"' in err


def test_restart_force_on_the_command_line_sets_a_row_holding_null(unset, capsys):
    assert run(unset, capsys, 'restart', 'orders', '7', '--force')[0] == 0
    assert run(unset, capsys, 'next', 'orders') == (0, '7\n', '')
