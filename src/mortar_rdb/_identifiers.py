"""Names handed to SQLAlchemy as identifiers, quoted where they must be."""
from __future__ import annotations

import re

from sqlalchemy.sql.elements import quoted_name

_PLAIN = re.compile(r'[A-Za-z0-9_$]+')


def identifier(name: str) -> str:
    """``name``, forced to be quoted unless it is only letters, digits, ``_`` and ``$``.

    SQLAlchemy decides by itself whether a name needs quotes, but its check
    lets a trailing newline through: ``'a\\n'`` would be sent unquoted and
    name ``a``. Plain names are left to SQLAlchemy, which folds their case
    the way each database does.
    """
    return name if _PLAIN.fullmatch(name) else quoted_name(name, quote=True)
