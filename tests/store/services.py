"""Real servers for the shared-store tests: a PostgreSQL cluster and an S3-compatible server (moto).

Both listen on 127.0.0.1 on a free port, in a temporary folder, and are stopped at the end.
PostgreSQL is Debian's `postgresql` package (.ci/run installs it); it refuses to run as
root, so as root the cluster belongs to `nobody`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path | None:
    """The folder with initdb/pg_ctl/postgres/createdb, or None when PostgreSQL is not installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(os.path.realpath(found)).parent))
    for folder in candidates:
        if all((Path(folder) / name).exists() for name in ("initdb", "pg_ctl", "postgres", "createdb")):
            return Path(folder)
    return None


@dataclass
class Postgres:
    bin: Path
    port: int
    run_as: list[str]

    def conninfo(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def createdb(self, name: str) -> str:
        subprocess.run(
            [*self.run_as, str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return self.conninfo(name)


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres | str]:
    """A running cluster, or the reason there is none (for pytest.skip)."""
    folder = pg_bin()
    if folder is None:
        yield "PostgreSQL is not installed (Debian: apt-get install postgresql)"
        return
    run_as: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="llmctl-pg-"))
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "nobody", "--"]
        os.chmod(base, 0o777)
    data = base / "data"
    port = free_port()
    env = {**os.environ, "LC_ALL": "C"}
    try:
        subprocess.run(
            [*run_as, str(folder / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
            timeout=120,
            env=env,
        )
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=200"
        subprocess.run(
            [*run_as, str(folder / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
            env=env,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        yield f"PostgreSQL could not be started: {exc}"
        return
    try:
        yield Postgres(folder, port, run_as)
    finally:
        subprocess.run(
            [*run_as, str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class S3:
    endpoint: str  # host:port
    env: dict[str, str]

    def make_bucket(self, name: str) -> None:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=name)


@contextlib.contextmanager
def s3_server() -> Iterator[S3 | str]:
    """moto's S3 in server mode on 127.0.0.1, or the reason there is none."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        yield "moto[server] is not installed (it is in the dev extra)"
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                yield "moto's server did not start"
                return
            time.sleep(0.1)
        env = {
            "AWS_ACCESS_KEY_ID": "testing-key-id",
            "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        }
        yield S3(f"127.0.0.1:{port}", env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
