"""A real PostgreSQL server for tests and benchmarks, started in a temporary folder and stopped after.

Debian's server binaries (`apt-get install -y postgresql`, which starts no cluster) live under
`/usr/lib/postgresql/<version>/bin`. `initdb` and `pg_ctl` refuse to run as root, and tests and CI
run as root, so as root they run as the `postgres` user on a folder that user owns.

The server listens on 127.0.0.1 on a free port and on a unix socket in its folder. The `postgres`
superuser connects without a password over the socket; every other role must give its password over
TCP (scram-sha-256), so tests can check how a sync handles passwords.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

_BIN_GLOB = "/usr/lib/postgresql/*/bin/initdb"


def server_binaries() -> Path | None:
    """The folder holding `initdb`, `pg_ctl` and `postgres` (newest version), or None if not installed."""
    found = sorted(glob.glob(_BIN_GLOB), key=lambda p: int(Path(p).parents[1].name))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster: `start()`, connect, `stop()` (which also deletes its folder).

    Args:
        settings: extra `postgres -c` settings, e.g. `{"fsync": "off"}` for fast tests.
    """

    settings: dict[str, str] = field(default_factory=dict)
    port: int = 0
    folder: Path | None = None

    @property
    def socket_dir(self) -> Path:
        assert self.folder is not None, "server not started"
        return self.folder / "socket"

    def start(self) -> PostgresServer:
        """Create the cluster and start the server; raise RuntimeError with the server log on failure."""
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError(
                "PostgreSQL server binaries not found under /usr/lib/postgresql: "
                "install them with `apt-get install -y postgresql` (make test does)"
            )
        self._bin = binaries
        # /tmp directly: pytest's own temp folders are private to root, and the server user must
        # be able to reach its data folder.
        self.folder = Path(tempfile.mkdtemp(prefix="kindred-pg-"))
        (self.folder / "data").mkdir()
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            for child in (self.folder / "data", self.socket_dir):
                shutil.chown(child, "postgres", "postgres")
        self.port = _free_port()
        self._run(
            "initdb",
            "-D",
            str(self.folder / "data"),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            # Nothing in a throwaway cluster must survive a crash: skip the fsyncs (most of initdb's time).
            "--no-sync",
        )
        options = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.socket_dir),
            **self.settings,
        }
        flags = " ".join(f"-c {name}={value}" for name, value in options.items())
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.folder / "data"),
                "-l",
                str(self.folder / "server.log"),
                "-o",
                flags,
                "-w",
                "start",
            )
        except RuntimeError as error:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"{error}\n{log}") from None
        self._watchdog = self._watch()
        return self

    def _watch(self) -> subprocess.Popen:
        """A small process that stops the server if this one dies without calling `stop()`.

        A test run or benchmark that is killed (SIGKILL, a CI timeout) would otherwise leave a
        server running and its folder behind.
        """
        stop = " ".join(
            self._command("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        )
        script = (
            f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; "
            f"{stop} >/dev/null 2>&1; rm -rf {shlex.quote(str(self.folder))}"
        )
        return subprocess.Popen(["sh", "-c", script], start_new_session=True, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        """Stop the server (immediately: nothing in a test cluster needs a clean shutdown) and delete it."""
        if self.folder is None:
            return
        watchdog = getattr(self, "_watchdog", None)
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
        if (self.folder / "data" / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def _command(self, program: str, *arguments: str) -> list[str]:
        command = [str(self._bin / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return command

    def _run(self, program: str, *arguments: str) -> None:
        command = self._command(program, *arguments)
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            )

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        """A superuser connection over the unix socket, in autocommit mode."""
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its name."""
        name = name or f"db_{uuid.uuid4().hex[:12]}"
        with self.admin() as con:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def create_role(self, name: str, password: str, *, database: str, owner: bool = True) -> None:
        """A login role with a password; with `owner`, it owns `database` (may create schemas in it)."""
        with self.admin() as con:
            con.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(name), sql.Literal(password)
                )
            )
            if owner:
                con.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(database), sql.Identifier(name)
                    )
                )
            else:
                con.execute(
                    sql.SQL("REVOKE CREATE ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
                )

    def url(self, user: str, database: str) -> str:
        """The password-free `postgresql://` URL of a database, over TCP on the loopback."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"
