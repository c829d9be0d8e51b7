import transaction

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence.generic import sequences


def test_the_first_values_of_a_new_sequence_are_1_2_3(db_url):
    register_session(db_url)
    sequences.create(get_session().bind)
    with transaction.manager:
        register_sequence('seq', get_session())
    assert [get_sequence('seq').next(get_session()) for _ in range(3)] == [1, 2, 3]
