"""Whether a database server can take part in two-phase commit.

``register_session(twophase=True)`` asks for two-phase commit, but a stock
PostgreSQL has ``max_prepared_transactions = 0`` and refuses ``PREPARE
TRANSACTION``, and a MariaDB Galera node refuses XA. Sessions therefore ask here, once per engine, and fall back to
an ordinary commit where the server cannot prepare.
"""
from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, exc, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from ._binds import engine_of
from ._galera import is_galera

_answers: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()


def _postgresql_can_prepare(engine: Engine) -> bool:
    with engine.connect() as connection:
        setting = connection.execute(text('SHOW max_prepared_transactions')).scalar()
    return int(setting or 0) > 0


def _mysql_can_prepare(engine: Engine) -> bool:
    # XA is part of InnoDB on every MySQL and MariaDB we support, but a
    # Galera node refuses it (error 1235) for every transaction.
    if is_galera(engine):
        return False
    _roll_back_even_when_rollback_only(engine.dialect)
    return True


_ROLLBACK_ONLY_MARK = '_mortar_rdb_rollback_only_fix'


def _roll_back_even_when_rollback_only(dialect: Dialect) -> None:
    """Let ``dialect`` roll back an XA transaction that a deadlock broke.

    After a deadlock, InnoDB has already rolled the work back and left the XA
    transaction "ROLLBACK ONLY": it refuses ``XA END`` (error 1399), which
    SQLAlchemy sends before ``XA ROLLBACK``. The rollback then failed, so the
    :mod:`transaction` package could not abort and retry. ``XA ROLLBACK``
    alone ends such a transaction.
    """
    if getattr(dialect, _ROLLBACK_ONLY_MARK, False):
        return
    roll_back = dialect.do_rollback_twophase

    def do_rollback_twophase(connection: Connection, xid: Any, is_prepared: bool = True, recover: bool = False) -> None:
        try:
            roll_back(connection, xid, is_prepared, recover)
        except exc.OperationalError as error:
            if is_prepared or not _is_rollback_only(error.orig):
                raise
            roll_back(connection, xid, True, recover)

    dialect.do_rollback_twophase = do_rollback_twophase  # type: ignore[method-assign]
    setattr(dialect, _ROLLBACK_ONLY_MARK, True)


def _is_rollback_only(error: BaseException | None) -> bool:
    return error is not None and bool(error.args) and error.args[0] == 1399 and 'ROLLBACK ONLY' in str(error)


# Other databases are not asked to prepare at all.
_PROBES = {
    'postgresql': _postgresql_can_prepare,
    'mysql': _mysql_can_prepare,
    'mariadb': _mysql_can_prepare,
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
    commits, so the servers are asked lazily, at the first connection. A
    session with several binds (``binds=``) prepares only when every one of
    its servers can.
    """

    _twophase_requested = False
    _engines: tuple[Engine, ...] = ()

    def __init__(
        self,
        bind: Engine | Connection | None = None,
        *,
        binds: dict[Any, Engine | Connection] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(bind, binds=binds, **options)
        targets = [bind, *(binds or {}).values()]
        self._engines = tuple(dict.fromkeys(engine_of(target) for target in targets if target is not None))

    @property
    def twophase(self) -> bool:
        if not self._twophase_requested or not self._engines:
            return False
        return all(server_can_prepare(engine) for engine in self._engines)

    @twophase.setter
    def twophase(self, requested: bool) -> None:
        self._twophase_requested = requested

