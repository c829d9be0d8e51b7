"""What a sequence name may be."""
from __future__ import annotations

from ._table import NAME_LENGTH
from .errors import InvalidSequenceName

#: What upgrading a mortar_rdb 3.0 table lets it hold.
_WIDENED = f'names of up to {NAME_LENGTH}'


def check_name(name: object, max_length: int | None = None) -> str:
    """Return ``name`` if it can name a sequence, else raise InvalidSequenceName.

    Names are stored and compared verbatim: any non-empty string without NUL
    characters that UTF-8 can encode and that fits the column.
    """
    if not isinstance(name, str):
        raise InvalidSequenceName(f'A sequence name must be a str, not {type(name).__name__}: {name!r}.')
    if not name:
        raise InvalidSequenceName('A sequence name must not be empty.')
    if '\x00' in name:
        raise InvalidSequenceName(f'A sequence name must not contain NUL characters: {name!r}.')
    try:
        name.encode('utf-8')
    except UnicodeEncodeError:
        # Lone surrogates: no database can store them.
        raise InvalidSequenceName(
            f'A sequence name must be valid Unicode text, without lone surrogates: {name!r}.'
        ) from None
    if max_length is not None and len(name) > max_length:
        raise InvalidSequenceName(
            f'The sequence name {name[:30]!r}... is {len(name)} characters long; '
            f'the sequences table holds names of at most {max_length}.',
            _WIDENED if max_length < NAME_LENGTH else None,
        )
    return name
