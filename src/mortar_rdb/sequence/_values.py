"""What a sequence value or a count of values may be."""
from __future__ import annotations

from ._table import INT64_MAX
from .errors import InvalidSequenceValue

#: What upgrading a mortar_rdb 3.0 table lets it hold.
_WIDENED = f'values up to {INT64_MAX}'


def _integer(value: object, what: str) -> int:
    # bool is an int subclass, but True as a start value is surely a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSequenceValue(f'{what} must be an int, not {type(value).__name__}: {value!r}.')
    return value


def check_value(value: object, ceiling: int, what: str = 'A sequence value', floor: int = 1) -> int:
    """Return ``value`` if a sequence can hand it out, else raise InvalidSequenceValue.

    ``floor`` is 1 for the sequences table; a native sequence may go lower.
    """
    value = _integer(value, what)
    if not floor <= value <= ceiling:
        widened = _WIDENED if value > ceiling and ceiling < INT64_MAX else None
        raise InvalidSequenceValue(f'{what} must be between {floor} and {ceiling}, not {value}.', widened)
    return value


def check_count(count: object) -> int:
    """Return ``count`` if it is a positive int, else raise InvalidSequenceValue."""
    count = _integer(count, 'The number of values')
    if count < 1:
        raise InvalidSequenceValue(f'The number of values must be at least 1, not {count}.')
    return count
