"""SQLite WAL checkpoints on a thread of their own, off the writers' path.

In WAL mode every commit appends pages to the log, and by default the connection whose commit
takes the log past 1,000 pages copies them back into the database file (a checkpoint, with
its fsyncs) before its commit returns. Under load that was the core's database thread every
few batches: 10-47 ms stalls, about 5 ms per batch, in the middle of the pipeline's busiest
stage. Here the process's connections never checkpoint themselves (`wal_autocheckpoint=0`);
a connection on this thread checkpoints every `interval` instead. PASSIVE never waits for a
writer or a reader, so writers go on while pages are copied; the log restarts from its
beginning once everything in it is in the file, and `journal_size_limit` bounds the file it
leaves behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds between checkpoints: the log stays a few hundred pages under load
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes of log file kept after a reset


class WalCheckpointer:
    """Checkpoints the WAL of the SQLite file at `path` until `stop`."""

    def __init__(self, path: Path, interval: float = INTERVAL) -> None:
        self.path, self.interval = path, interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="botgate-checkpoint", daemon=True)
        self.checkpoints = 0  # completed passes, for tests and curiosity

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the pass under way (the last connection to close checkpoints the rest)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stopping.wait(self.interval):
                if connection is None:
                    connection = self._connect()
                    if connection is None:
                        continue  # no file yet: migrations create it
                self._checkpoint(connection)
        finally:
            if connection is not None:
                connection.close()

    def _connect(self) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout=1000")
        return connection

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # locked by a schema change, a disk error: try next time
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)


def writer_pragmas(cursor: sqlite3.Cursor) -> None:
    """On each writing connection of a process that runs a WalCheckpointer."""
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
