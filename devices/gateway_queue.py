"""The gateway's on-disk queue: events wait here until the broker acknowledges them (PUBACK),
through network cuts, broker restarts, gateway restarts and power failures.

One SQLite file, ``synchronous=FULL``: a commit returns only after SQLite has fsync'ed it, so
an event is "queued" only once it is on the disk. The detector's state is saved in the same
transaction as the events it produced, so a crash can neither lose an event nor make the
gateway detect the same job twice under another id.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from fabbooking.usage.power import Detector, Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,          -- the contract JSON, without "replay"
    replay INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS machine_state (
    machine TEXT PRIMARY KEY,
    state TEXT NOT NULL              -- detector, energy counter, last sample (JSON)
);
"""


class DiskQueue:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # one user at a time
        self.db.execute("PRAGMA journal_mode=DELETE")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def put(self, events: list[tuple[str, str, bytes]], replay: bool, queued_at: datetime,
            states: dict[str, dict] | None = None) -> None:
        """Queue ``(msg_id, topic, payload)`` events and save machine states, atomically. An
        event already queued under the same msg_id stays as it is."""
        with self._transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO event (msg_id, topic, payload, replay, queued_at) VALUES (?, ?, ?, ?, ?)",
                [(m, t, p, int(replay), queued_at.isoformat()) for m, t, p in events])
            for machine, state in (states or {}).items():
                self.db.execute("INSERT INTO machine_state (machine, state) VALUES (?, ?) ON CONFLICT (machine) "
                                "DO UPDATE SET state = excluded.state", (machine, json.dumps(state)))

    def pending(self, limit: int, exclude: set[int] = frozenset()) -> list[tuple[int, str, str, bytes, bool]]:
        rows = self.db.execute("SELECT id, msg_id, topic, payload, replay FROM event ORDER BY id LIMIT ?",
                               (limit + len(exclude),)).fetchall()
        return [(i, m, t, bytes(p), bool(r)) for i, m, t, p, r in rows if i not in exclude][:limit]

    def delete(self, ids: list[int]) -> None:
        if ids:
            with self._transaction():
                self.db.executemany("DELETE FROM event WHERE id = ?", [(i,) for i in ids])

    def mark_replay(self) -> None:
        """Whatever waits in the queue now will go out late: flag it as a replay."""
        with self._transaction():
            self.db.execute("UPDATE event SET replay = 1 WHERE replay = 0")

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM event").fetchone()[0]

    def load_state(self, machine: str) -> dict | None:
        row = self.db.execute("SELECT state FROM machine_state WHERE machine = ?", (machine,)).fetchone()
        return json.loads(row[0]) if row else None

    def _transaction(self):
        db = self.db

        class Transaction:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, value, tb):
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return Transaction()


def detector_to_dict(detector: Detector) -> dict:
    body = asdict(detector)
    for key, value in list(body.items()):
        if isinstance(value, datetime):
            body[key] = value.isoformat()
    if detector.last is not None:
        body["last"] = {"at": detector.last.at.isoformat(), "power_w": detector.last.power_w,
                        "energy_wh": detector.last.energy_wh}
    return body


def detector_from_dict(body: dict | None) -> Detector:
    if not body:
        return Detector()

    def moment(value):
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    last = body.get("last")
    return Detector(
        running=bool(body.get("running")), started_at=moment(body.get("started_at")),
        start_energy_wh=body.get("start_energy_wh"), above_since=moment(body.get("above_since")),
        above_energy_wh=body.get("above_energy_wh"), below_since=moment(body.get("below_since")),
        below_energy_wh=body.get("below_energy_wh"),
        last=Reading(datetime.fromisoformat(last["at"]), last["power_w"], last.get("energy_wh")) if last else None)
