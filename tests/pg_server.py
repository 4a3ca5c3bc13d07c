"""A throw-away PostgreSQL server for the tests: initdb in a temporary directory, started as an
unprivileged user (initdb refuses root) on a free loopback port, with fsync off.

Standard library only, so that `.ci/run` can start the server with the system's python before
the virtual environment exists (``python3 tests/pg_server.py start DIR`` prints the URL;
``stop DIR`` stops it), and the test fixture can start its own when no server was given.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

USER = "nobody"  # who runs the server when we are root


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian's layout), or initdb on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", USER, "--", *argv]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(base: Path) -> str:
    """Start a server whose data and socket live under ``base``; its admin URL."""
    bin_dir = binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (initdb) on this machine")
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(USER)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    data, port = base / "data", _free_port()
    subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                                    "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
               f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l",
                                    str(base / "server.log"), "-o", options, "-w", "start"]),
                   check=True, stdout=subprocess.DEVNULL)
    (base / "url").write_text(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    return (base / "url").read_text()


def stop(base: Path) -> None:
    bin_dir = binaries()
    if bin_dir is not None and (base / "data" / "postmaster.pid").exists():
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(base / "data"),
                                        "-m", "immediate", "stop"]),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "start":
        print(start(where))
    elif command == "stop":
        stop(where)
    else:
        sys.exit(f"usage: {sys.argv[0]} start|stop DIR")
