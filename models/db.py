"""The engine and sessions of the asset store (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

# Seconds a SQLite writer waits for another writer's lock before failing;
# concurrent flow runs in one process share the file.
SQLITE_BUSY_TIMEOUT_S = 30
# SQLite has no popcount: connections get this function, the number of bits two
# 64-bit integers differ in, for the similarity search (models/similarity.py).
SQLITE_HAMMING_FUNCTION = "assetflow_hamming"
_MASK64 = (1 << 64) - 1


def _hamming(a: int, b: int) -> int:
    return ((a ^ b) & _MASK64).bit_count()


def make_engine(database_url: str) -> Engine:
    """Create an engine for the URL; on SQLite, enforce foreign keys and use WAL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function(SQLITE_HAMMING_FUNCTION, 2, _hamming, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine


# One engine per database URL for the life of the process (see process_engine).
_process_engines: dict[str, Engine] = {}
_process_engines_lock = threading.Lock()


def process_engine(database_url: str) -> Engine:
    """Return this process's engine for the URL, created on first use and kept.

    For a long-lived process that runs many short units of work it did not
    start, such as a Dask worker running batch items: one engine pools its
    connections across them, where an engine per item costs a connection each.
    """
    with _process_engines_lock:
        engine = _process_engines.get(database_url)
        if engine is None:
            engine = _process_engines[database_url] = make_engine(database_url)
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
