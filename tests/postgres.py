"""A real PostgreSQL server for tests: Debian's `postgresql` binaries, a throw-away cluster in a temporary folder,
listening on a free loopback port and a unix socket in that folder.

initdb and postgres refuse to run as root, so under root both run as the package's `postgres` user. `make test`
installs the package when it is missing; without it, `find_bindir` returns None and the fixture fails (it never
skips: the store's suite is incomplete without PostgreSQL).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = ["MISSING", "PostgresServer", "find_bindir", "free_port"]

MISSING = ("PostgreSQL's server binaries (initdb, postgres) were not found under /usr/lib/postgresql/*/bin or on "
           "PATH: `make test` installs Debian's postgresql package (or run: apt-get install -y postgresql)")


def find_bindir(debian: Path = Path("/usr/lib/postgresql"), path: str | None = None) -> Path | None:
    """The folder of initdb and postgres: Debian's newest /usr/lib/postgresql/N/bin, else the ones on PATH."""
    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)

    for bindir in sorted(debian.glob("*/bin"), key=version, reverse=True):
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    initdb = shutil.which("initdb", path=path)
    if initdb and (Path(initdb).parent / "postgres").is_file():
        return Path(initdb).parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """`start()` a cluster, hand out fresh databases with `create_database()`, `stop()` removes everything."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:  # the server refuses root: run it as the package's user
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        os.chmod(self.root, 0o700)

    def url(self, database: str = "postgres", *, password: str | None = None) -> str:
        """A URL for one of the server's databases (trust authentication: any password is accepted)."""
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def start(self, *, timeout_s: float = 60.0) -> PostgresServer:
        data, log = self.root / "data", self.root / "server.log"
        done = subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
             "--locale=C", "--no-sync"], cwd=self.root, capture_output=True, text=True, timeout=120, **self._as)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {' '.join((done.stderr or done.stdout).split())}")
        # Durability is not under test: no fsync makes creating a database per test cheap.
        settings = {"listen_addresses": "127.0.0.1", "unix_socket_directories": str(self.root), "fsync": "off",
                    "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "300",
                    "shared_buffers": "64MB"}
        command = [str(self.bindir / "postgres"), "-D", str(data), "-p", str(self.port)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with log.open("wb") as out:
            self._proc = subprocess.Popen(command, cwd=self.root, stdout=out, stderr=subprocess.STDOUT, **self._as)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.execute("SELECT 1")
                return self
            except Exception as exc:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-2000:]
                    self.stop()
                    raise RuntimeError(f"postgres did not start ({exc}): {tail}") from None
                time.sleep(0.1)

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement outside a transaction (CREATE / DROP DATABASE need that); its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql.encode())
            return list(cursor.fetchall()) if cursor.description else []

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by create_database, closing whatever is still connected to it."""
        name = url.rsplit("/", 1)[1]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
