"""Every database's SQL for sequences, split by concern; each is chosen once per engine.

- :mod:`.table`: the ``sequences`` table's statements (increment, current, ...);
- :mod:`.upgrade`: bringing a mortar_rdb 3.0 table to the current shape;
- :mod:`.native`: native sequences' DDL and ``nextval``;
- :mod:`.codes`: what each driver's error codes mean, as one table per database;
- :mod:`.waits`: what each database makes a client wait for, how to bound it and name it;
- :mod:`.drivers`: which package brings each driver, and each async driver's sync twin;
- :mod:`.in_doubt`: listing and ending transactions left prepared (two-phase, XA).

Nothing here runs on its own: :mod:`mortar_rdb.sequence._cursor` picks one of
each per engine and runs them; the command line bounds and names its waits
and finds drivers here.
"""
from __future__ import annotations

from .codes import Codes, Meaning, codes_for, meaning, timed_out
from .in_doubt import InDoubtSQL, PreparedTransaction, in_doubt_sql_for
from .native import NativeSQL, native_sql_for
from .table import SequenceSQL, table_sql_for
from .upgrade import TableUpgrade, upgrade_for
from .waits import Waits, bounded_engine, waits_for

__all__ = [
    'Codes',
    'InDoubtSQL',
    'Meaning',
    'NativeSQL',
    'PreparedTransaction',
    'SequenceSQL',
    'TableUpgrade',
    'Waits',
    'bounded_engine',
    'codes_for',
    'in_doubt_sql_for',
    'meaning',
    'native_sql_for',
    'table_sql_for',
    'timed_out',
    'upgrade_for',
    'waits_for',
]
