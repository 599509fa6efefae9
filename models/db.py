"""The engine and sessions of the asset store (SQLite or PostgreSQL).

``transact`` is how the flows write: one unit of work in a session of its own,
run again from the start while the database is unreachable (a restart, a
dropped connection), for the engine's outage window (``Settings.outage_window_s``);
past it, ``DatabaseUnavailable`` says which store could not be reached.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session, create_engine

from core.errors import DatabaseUnavailable
from core.logs import get_logger
from core.outage import DEFAULT_WINDOW_S, OutageWindow
from core.phash import hamming

if TYPE_CHECKING:
    from core.settings import Settings

T = TypeVar("T")

logger = get_logger("models.db")

# Seconds a SQLite writer waits for another writer's lock before failing;
# concurrent flow runs in one process share the file.
SQLITE_BUSY_TIMEOUT_S = 30
# Seconds a PostgreSQL connect may take: a server that is down refuses at once,
# one that is unreachable must not hold an attempt past the outage window.
PG_CONNECT_TIMEOUT_S = 5
# The engine's execution option that carries its outage window.
_WINDOW_OPTION = "assetflow_outage_window_s"
# SQLite has no popcount: connections get this function, the number of bits two
# 64-bit integers differ in, for the similarity search (models/similarity.py).
SQLITE_HAMMING_FUNCTION = "assetflow_hamming"


def make_engine(database_url: str, *, outage_window_s: float = DEFAULT_WINDOW_S) -> Engine:
    """Create an engine for the URL; on SQLite, enforce foreign keys and use WAL.

    ``transact`` on the engine rides out a database outage for ``outage_window_s``.
    On PostgreSQL every pooled connection is pinged before use, so a restart
    leaves no dead connection in the pool.
    """
    url = make_url(database_url)
    options = {_WINDOW_OPTION: outage_window_s}
    if url.get_backend_name() != "sqlite":
        return create_engine(
            url,
            pool_pre_ping=True,
            execution_options=options,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
        )
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, execution_options=options
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function(SQLITE_HAMMING_FUNCTION, 2, hamming, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


# One engine per database URL for the life of the process (see process_engine).
_process_engines: dict[str, Engine] = {}
_process_engines_lock = threading.Lock()


def engine_for(settings: Settings) -> Engine:
    """Create an engine on the settings' asset store, with their outage window."""
    return make_engine(settings.database_url, outage_window_s=settings.outage_window_s)


def process_engine(settings: Settings) -> Engine:
    """Return this process's engine for the URL, created on first use and kept.

    For a long-lived process that runs many short units of work it did not
    start, such as a Dask worker running batch items: one engine pools its
    connections across them, where an engine per item costs a connection each.
    """
    key = f"{settings.outage_window_s}:{settings.database_url}"
    with _process_engines_lock:
        engine = _process_engines.get(key)
        if engine is None:
            engine = _process_engines[key] = engine_for(settings)
        return engine


def _forget_process_engines() -> None:
    # A forked child must neither use nor close the connections it inherited.
    for engine in _process_engines.values():
        engine.dispose(close=False)
    _process_engines.clear()


os.register_at_fork(after_in_child=_forget_process_engines)


def new_session(engine: Engine) -> Session:
    """Open a session whose objects stay readable after commit."""
    return Session(engine, expire_on_commit=False)


def transact(engine: Engine, work: Callable[[Session], T], *, describe: str) -> T:
    """Run ``work`` in a session of its own and commit again while the store is down.

    ``work`` must be safe to run again: an attempt whose connection dropped
    left nothing behind. ``describe`` names the work in the warnings, e.g.
    "recording the asset's sizes". Raises ``DatabaseUnavailable`` (marked
    outlasted) once the engine's outage window has passed.
    """

    def once() -> T:
        with asset_store_errors(engine), new_session(engine) as session:
            result = work(session)
            session.commit()
            return result

    window = OutageWindow(outage_window_of(engine))
    return window.ride_out(once, describe=describe, logger=logger)


def outage_window_of(engine: Engine) -> float:
    """Return the seconds ``transact`` rides out an outage on this engine."""
    window = engine.get_execution_options().get(_WINDOW_OPTION, DEFAULT_WINDOW_S)
    return float(window)


@contextmanager
def asset_store_errors(engine: Engine) -> Iterator[None]:
    """Turn a lost or refused database connection inside the block into ``DatabaseUnavailable``."""
    try:
        yield
    except DBAPIError as exc:
        if not is_disconnect(exc, engine.url):
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(
            f"the asset store at {shown_url(engine.url)} could not be reached: {reason}"
        ) from exc


def is_disconnect(exc: DBAPIError, url: URL) -> bool:
    """Tell whether a database error is a lost, refused or reset connection (worth retrying).

    SQLAlchemy flags the disconnects it recognises; on PostgreSQL every
    OperationalError (connection failed, server closed the connection,
    terminating connection due to administrator command) and InterfaceError
    (the connection is closed) is one too. SQLite's OperationalErrors are
    about the file ("no such table", "database is locked" after its busy
    timeout), not a connection: they are not retried.
    """
    if exc.connection_invalidated:
        return True
    return url.get_backend_name() == "postgresql" and isinstance(
        exc, OperationalError | InterfaceError
    )


def shown_url(url: URL) -> str:
    """Show a database URL without credentials or driver: postgresql://host:port/db."""
    bare = URL.create(url.get_backend_name(), host=url.host, port=url.port, database=url.database)
    return bare.render_as_string(hide_password=True)
