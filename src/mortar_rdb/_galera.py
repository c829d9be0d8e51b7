"""Whether an engine's server is a node of a MariaDB Galera cluster.

Galera replicates every transaction to every node at commit, where it is
certified against what the other nodes committed meanwhile. That changes
three things for us: the server refuses XA (so sessions commit in one
phase), a native sequence must hand out values interleaved between the nodes
(``INCREMENT BY 0``), and two nodes changing the same row at once lose one
transaction to a certification failure (error 1213) rather than wait for a
lock. The server is asked once per engine.
"""
from __future__ import annotations

from weakref import WeakKeyDictionary

from sqlalchemy import Engine

__all__ = ['is_galera']

_answers: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()


def is_galera(engine: Engine) -> bool:
    """True when ``engine`` talks to a MySQL or MariaDB server replicating with Galera (``wsrep_on``)."""
    answer = _answers.get(engine)
    if answer is None:
        answer = False
        if engine.dialect.name in ('mysql', 'mariadb'):
            with engine.connect() as connection:
                # MySQL has no such variable: no row, so not Galera.
                row = connection.exec_driver_sql("SHOW VARIABLES LIKE 'wsrep\\_on'").first()
            answer = row is not None and str(row[1]).upper() == 'ON'
        _answers[engine] = answer
    return answer
