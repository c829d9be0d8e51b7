"""mortar_rdb.compat: the Python 2 and 3 names that 3.0's users' tests import."""
from io import StringIO

from mortar_rdb.compat import PY2, empty_str
from mortar_rdb.compat import StringIO as CompatStringIO


def test_this_is_not_python_2():
    assert PY2 is False


def test_empty_str_is_how_repr_writes_the_empty_string():
    assert empty_str == repr('') == "''"


def test_stringio_is_the_text_one():
    assert CompatStringIO is StringIO
