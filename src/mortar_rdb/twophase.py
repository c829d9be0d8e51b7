"""Whether a database server can take part in two-phase commit.

``register_session(twophase=True)`` asks for two-phase commit, but a stock
PostgreSQL has ``max_prepared_transactions = 0`` and refuses ``PREPARE
TRANSACTION``. Sessions therefore ask here, once per engine, and fall back to
an ordinary commit where the server cannot prepare.
"""
from __future__ import annotations

from weakref import WeakKeyDictionary

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

_answers: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()


def _postgresql_can_prepare(engine: Engine) -> bool:
    with engine.connect() as connection:
        setting = connection.execute(text('SHOW max_prepared_transactions')).scalar()
    return int(setting or 0) > 0


# XA is part of InnoDB on every MySQL and MariaDB we support; other
# databases are not asked to prepare at all.
_PROBES = {
    'postgresql': _postgresql_can_prepare,
    'mysql': lambda engine: True,
    'mariadb': lambda engine: True,
}


def server_can_prepare(engine: Engine) -> bool:
    """True when ``engine``'s server accepts two-phase commit."""
    answer = _answers.get(engine)
    if answer is None:
        probe = _PROBES.get(engine.dialect.name)
        answer = _answers[engine] = bool(probe and probe(engine))
    return answer


class TwoPhaseWhereSupportedSession(Session):
    """A session whose ``twophase=True`` means "where the server can".

    SQLAlchemy reads ``twophase`` when the session first connects and when it
    commits, so the server is asked lazily, at the first connection.
    """

    _twophase_requested = False

    @property
    def twophase(self) -> bool:
        if not self._twophase_requested:
            return False
        bind = self.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        return server_can_prepare(engine)

    @twophase.setter
    def twophase(self, requested: bool) -> None:
        self._twophase_requested = requested
