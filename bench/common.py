"""Helpers the benchmark scripts share: the bench stores, the commit measured, how quiet the machine is."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCAL_SOCKET = Path("/var/run/postgresql/.s.PGSQL.5432")


def default_database_url() -> str:
    """The local server through its unix socket when it has one, as a same-host deployment should connect.

    It spares both ends the loopback TCP stack; see bench/README.md for runs over each.
    """
    if LOCAL_SOCKET.exists():
        return "postgres://postgres@/cx_bench"
    return "postgres://postgres@127.0.0.1:5432/cx_bench"


def fresh_database(database_url: str) -> None:
    """Drops and creates the bench database (connecting to the server's `postgres` database to do it).

    Every run starts from empty tables: an earlier run's rows and dead tuples, and the autovacuum they set
    off in the middle of a run, made the same code measure up to ten times slower from one run to the next.
    """
    import psycopg
    from psycopg import sql

    name = database_url.rsplit("/", 1)[1].split("?", 1)[0]
    server_url = database_url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        sys.exit(f"Cannot reach PostgreSQL at {server_url}: {exc}")


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        sys.exit(f"Cannot reach Redis at {url}: {exc}")


def code_version() -> str:
    """The commit measured, flagged when the working tree differs from it (figures are for that state)."""

    def git(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *command], cwd=REPO, capture_output=True, text=True, check=False)

    commit, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--", ".", ":!bench")
    if commit.returncode:
        return "unknown (not a git checkout)"
    return commit.stdout.strip() + (" + uncommitted changes outside bench/" if dirty.stdout.strip() else "")


def _cpu_ticks() -> tuple[int, int]:
    """All the machine's CPU ticks so far, and those of them idle or waiting for I/O (/proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(value) for value in stat.readline().split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


class CpuMeter:
    """The whole machine's CPU over a stretch of a bench: how many cores were busy, and CPU seconds spent.

    Every process counts (client, API stand-in, PostgreSQL, Redis, workers), so a figure of work done on one
    machine can be set against what the machine has: ``with CpuMeter() as cpu: ...`` then ``cpu.per(calls)``."""

    def __init__(self) -> None:
        self.cores = os.cpu_count() or 1
        self.busy_seconds = self.wall_seconds = 0.0

    def __enter__(self) -> CpuMeter:
        self._started = time.perf_counter()
        self._total, self._idle = _cpu_ticks()
        return self

    def __exit__(self, *exc_info: object) -> None:
        total, idle = _cpu_ticks()
        self.wall_seconds = time.perf_counter() - self._started
        share = 1 - (idle - self._idle) / max(total - self._total, 1)
        self.busy_seconds = share * self.cores * self.wall_seconds

    @property
    def busy_cores(self) -> float:
        return self.busy_seconds / max(self.wall_seconds, 1e-9)

    def per(self, count: int) -> float:
        """CPU milliseconds (all processes) per unit of work."""
        return 1000 * self.busy_seconds / max(count, 1)


def busy_share(seconds: float = 2.0) -> float:
    """How busy the machine's CPUs are (0-1) over a short sample, from /proc/stat: wrk and the server need them all."""
    try:
        with CpuMeter() as cpu:
            time.sleep(seconds)
    except OSError:
        return 0.0
    return cpu.busy_cores / cpu.cores


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
