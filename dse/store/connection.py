"""Opening the SQLite file: where it is, how long a write waits for the lock, and SQLite's errors turned into
the user errors dse prints (locked, read-only, damaged, with what can still be saved)."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

from dse.errors import DseError, StoreDamaged
from dse.store.decode import salvage


def default_db_path() -> Path:
    """``$DSE_DB`` or ``./dse.sqlite``."""
    return Path(os.environ.get("DSE_DB") or "dse.sqlite")


def lock_timeout() -> float:
    """Seconds a write waits for another writer's lock: ``$DSE_LOCK_TIMEOUT`` or 60."""
    try:
        t = float(os.environ.get("DSE_LOCK_TIMEOUT") or 60)
    except ValueError:
        raise DseError(f"DSE_LOCK_TIMEOUT={os.environ['DSE_LOCK_TIMEOUT']!r} is not a number of seconds") from None
    if not 0 <= t < 1e6:
        raise DseError(f"DSE_LOCK_TIMEOUT must be from 0 to 10^6 seconds, got {t:g}")
    return t


def _translated(f):
    """A Cursor method whose SQLite errors (but constraint violations, which callers handle) become user errors
    naming the store: locked, read-only, damaged."""
    def method(self, *a):
        try:
            return f(self, *a)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as e:
            raise store_error(self.connection.dse_path, e) from None
    return method


class _Cursor(sqlite3.Cursor):
    execute = _translated(sqlite3.Cursor.execute)
    executemany = _translated(sqlite3.Cursor.executemany)
    fetchone = _translated(sqlite3.Cursor.fetchone)
    fetchall = _translated(sqlite3.Cursor.fetchall)
    __next__ = _translated(sqlite3.Cursor.__next__)


class _Connection(sqlite3.Connection):
    dse_path = None

    def execute(self, *a):
        return self.cursor(_Cursor).execute(*a)

    def executemany(self, *a):
        return self.cursor(_Cursor).executemany(*a)


def store_error(path, e: sqlite3.Error) -> DseError:
    """The user-facing error of an SQLite failure on the store at ``path``."""
    msg = str(e)
    low = msg.lower()
    if "locked" in low or "busy" in low:
        return DseError(f"{path} is locked by another process writing to it (still after {lock_timeout():g} s); "
                        f"wait for it to finish, or set DSE_LOCK_TIMEOUT to wait longer")
    if "readonly" in low or "read-only" in low:
        return DseError(f"{path} is read-only and this command writes to the store; make it writable, or copy it "
                        f"(cp {path} copy.sqlite) and pass --db copy.sqlite")
    if "unable to open" in low:
        return DseError(f"cannot open {path} ({msg}); the store's folder must be readable and writable (SQLite "
                        f"keeps its journal beside the file)")
    if "disk is full" in low or "disk i/o" in low:
        return DseError(f"cannot write {path}: {msg}")

    return StoreDamaged(f"{path} is damaged ({msg}). {salvage(path)}")


HOST = socket.gethostname()


def worker_id() -> str:
    """This process as a claim holder: host:pid."""
    return f"{HOST}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) holds nothing
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
