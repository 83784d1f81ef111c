"""The durable result store: one SQLite file per experiment, one row per job.

Rows are written by the coordinating process as each job ends (one transaction each),
so a killed sweep loses only the jobs in flight. A job's key identifies what it
computes (sequence, frames, config, QP, preset, arm, filter content): a rerun skips
keys already done and retries failed ones.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

#: the store's file in a sweep's output folder
STORE_NAME = "results.sqlite"

#: the jobs table, column by column: (name, SQL type and constraint, what it holds)
JOB_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("key", "TEXT PRIMARY KEY", "what the job computes, hashed"),
    ("sequence", "TEXT NOT NULL", ""), ("class", "TEXT NOT NULL", ""), ("config", "TEXT NOT NULL", ""),
    ("qp", "INTEGER NOT NULL", ""),
    ("arm", "TEXT NOT NULL", "'anchor' or 'test'"),
    ("filter", "TEXT NOT NULL", ""),
    ("status", "TEXT NOT NULL", "'done' or 'failed'"),
    ("error", "TEXT", ""),
    ("frames", "INTEGER", ""), ("fps", "REAL", ""), ("rate_bytes", "INTEGER", ""), ("kbps", "REAL", ""),
    ("psnr_y", "REAL", ""), ("psnr_u", "REAL", ""), ("psnr_v", "REAL", ""), ("psnr_yuv", "REAL", ""),
    ("mse_psnr_y", "REAL", ""), ("ssim_y", "REAL", ""), ("cs_psnr", "REAL", ""),
    ("enc_seconds", "REAL", ""), ("dec_seconds", "REAL", ""), ("md5_match", "INTEGER", ""),
    ("side_info_bytes", "INTEGER", ""),
    ("per_frame", "TEXT", "JSON: psnr y/u/v and bits per frame"),
    ("versions", "TEXT", "JSON: encoder, torch, hm-cnn-loop commit"),
    ("intra_period", "INTEGER", "RA: pictures between IDRs"),
    ("stream_md5", "TEXT", "MD5 of the coded stream (a job coded in segments: of the joined stream)"),
    ("bit_depth", "INTEGER", "the coding (internal) bit depth"),
    ("finished_at", "REAL", ""),
)
COLUMNS = [name for name, _, _ in JOB_COLUMNS]
JSON_COLUMNS = ("per_frame", "versions")

SCHEMA = ("CREATE TABLE IF NOT EXISTS jobs (" + ", ".join(f"{n} {t}" for n, t, _ in JOB_COLUMNS) + ");\n"
          "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);\n"
          # a job being coded: by which coordinator, until when (renewed while it lives)
          "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);\n"
          # a segment of a job coded as segments (key: JOB@FIRST-END), kept until the job's row is
          "CREATE TABLE IF NOT EXISTS segments (key TEXT PRIMARY KEY, job TEXT NOT NULL, first INTEGER NOT NULL, "
          "stop INTEGER NOT NULL, record BLOB NOT NULL, finished_at REAL NOT NULL);")


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=60)
        self._wal()
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._add_new_columns()

    def _wal(self) -> None:
        """WAL mode (set once per file). Switching needs the file to itself, and SQLite then
        answers "locked" at once instead of waiting: while another coordinator writes,
        retry (a file already in WAL mode needs nothing)."""
        deadline = time.time() + 60
        while self.db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def _add_new_columns(self) -> None:
        """A store written by an older version gains the columns added since."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(jobs)")}
        with self.db:
            for name, sql_type, _ in JOB_COLUMNS:
                if name not in have:
                    self.db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {sql_type.replace('PRIMARY KEY', '')}")

    def close(self) -> None:
        self.db.close()

    def set_meta(self, key: str, value) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def done_keys(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT key FROM jobs WHERE status = 'done'")}

    def record(self, row: dict) -> None:
        row = dict(row, finished_at=time.time())
        for k in JSON_COLUMNS:
            if k in row and not isinstance(row[k], (str, type(None))):
                row[k] = json.dumps(row[k])
        values = [row.get(c) for c in COLUMNS]
        with self.db:  # one transaction per job: committed before the next one is looked at
            self.db.execute(f"INSERT OR REPLACE INTO jobs ({', '.join(COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(COLUMNS))})", values)
            self.db.execute("DELETE FROM claims WHERE key = ?", (row["key"],))

    # --- segments: the parts of a job coded as segments, until it is joined ---------------------
    def record_segment(self, key: str, job: str, span: tuple[int, int], record: bytes) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO segments VALUES (?, ?, ?, ?, ?, ?)",
                            (key, job, span[0], span[1], record, time.time()))
            self.db.execute("DELETE FROM claims WHERE key = ?", (key,))

    def segments(self, job: str) -> dict[tuple[int, int], bytes]:
        return {(a, b): r for a, b, r in self.db.execute("SELECT first, stop, record FROM segments WHERE job = ?",
                                                         (job,))}

    def drop_segments(self, job: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM segments WHERE job = ?", (job,))

    # --- claims: two coordinators on one folder never code a job twice ---------------------
    #: a claim's key: a job's, or a segment's (JOB@FIRST-END)
    def _finished(self, key: str, since: float) -> bool:
        job = key.split("@")[0]  # a segment's job failed (or was done): the segment is over too
        return bool(self.db.execute("SELECT 1 FROM jobs WHERE key IN (?, ?) AND (status = 'done' OR finished_at >= ?)",
                                    (key, job, since)).fetchone()
                    or self.db.execute("SELECT 1 FROM segments WHERE key = ?", (key,)).fetchone())

    def claimable(self, key: str, owner: str, since: float, dead=lambda owner: False) -> bool:
        """Whether ``owner`` could take ``key`` now (not finished, no live claim of another)."""
        if self._finished(key, since):
            return False
        held = self.db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
        return not (held and held[0] != owner and held[1] > time.time() and not dead(held[0]))

    def claim(self, key: str, owner: str, lease: float, since: float, dead=lambda owner: False) -> bool:
        """Takes job (or segment) ``key`` for ``owner`` for ``lease`` seconds, unless it has
        finished (a row recorded since ``since``, this sweep's start, or a stored segment)
        or a live claim of another owner (expired, or ``dead(owner)``: not live)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")  # one claimer at a time across processes
            if not self.claimable(key, owner, since, dead):
                return False
            self.db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (key, owner, time.time() + lease))
        return True

    def release(self, key: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM claims WHERE key = ?", (key,))

    def renew(self, owner: str, lease: float) -> None:
        with self.db:
            self.db.execute("UPDATE claims SET expires = ? WHERE owner = ?", (time.time() + lease, owner))

    def status(self) -> dict:
        """What the store knows of the planned jobs: done, failed (with the first line of
        the error), running (a live claim: owner, seconds left on its lease), not started."""
        planned = self.meta("planned_keys") or []
        rows = {k: (s, e) for k, s, e in self.db.execute("SELECT key, status, error FROM jobs")}
        now = time.time()
        live = {}  # a job's claim, or one of its segments' (JOB@FIRST-END)
        for k, o, x in self.db.execute("SELECT key, owner, expires FROM claims"):
            if x > now:
                live.setdefault(k.split("@")[0], (o, x - now))
        out = {"planned": len(planned), "done": [], "failed": [], "running": [], "waiting": []}
        for k in planned:
            if k in rows and rows[k][0] == "done":
                out["done"].append(k)
            elif k in live:
                out["running"].append((k,) + live[k])
            elif k in rows:
                out["failed"].append((k, (rows[k][1] or "").splitlines()[0] if rows[k][1] else ""))
            else:
                out["waiting"].append(k)
        return out

    def finished_since(self, keys: list[str], since: float) -> set[str]:
        """Those of ``keys`` with a row recorded since ``since`` (done or failed), or done
        before; a segment's key: stored, or its job finished."""
        rows = {r[0] for r in self.db.execute("SELECT key FROM jobs WHERE status = 'done' OR finished_at >= ?",
                                              (since,))}
        segments = {r[0] for r in self.db.execute("SELECT key FROM segments")}
        return {k for k in keys if k in rows or k in segments or k.split("@")[0] in rows}

    def rows(self, status: str | None = "done") -> list[dict]:
        cur = self.db.execute("SELECT * FROM jobs" + (" WHERE status = ?" if status else ""),
                              (status,) if status else ())
        names = [d[0] for d in cur.description]
        out = []
        for r in cur.fetchall():
            d = dict(zip(names, r))
            for k in JSON_COLUMNS:
                d[k] = json.loads(d[k]) if d[k] else None
            out.append(d)
        return out
