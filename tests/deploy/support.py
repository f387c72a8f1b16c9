"""What the deployment tests share: free ports, a certificate made for the test, the nginx
template rendered as the container renders it, and console processes as production runs them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from platform_core.accounts import service as accounts
from platform_core.actors import system_actor
from platform_core.catalogue.service import install_defaults
from platform_core.regions.service import load_dictionary
from platform_core.runtime import Runtime
from platform_core.settings import Settings
from tests.agent_console.conftest import PASSWORD, USERS, _elder

ROOT = Path(__file__).resolve().parents[2]
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "nginx.conf.template"
PLACEHOLDER = re.compile(r"\$\{(NGINX_[A-Z0-9_]+)\}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (and localhost), made now and valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotline test")])
    now = dt.datetime.now(dt.UTC)  # the certificate's own validity, not the hotline's clock
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "console.crt", directory / "console.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def render_template(text: str, values: dict[str, str]) -> str:
    """envsubst limited to the NGINX_* names, as the nginx container does; a missing one fails."""

    def one(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise KeyError(f"template needs {m.group(1)}")
        return values[m.group(1)]

    return PLACEHOLDER.sub(one, text)


class Nginx:
    """Debian's nginx running the deployment template in a directory of its own."""

    def __init__(self, root: Path, values: dict[str, str]) -> None:
        self.root = root
        self.runtime_dir = root / "run"
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "NGINX_RUNTIME_DIR": str(self.runtime_dir),
            "NGINX_ACCESS_LOG": str(root / "access.log"),
            "NGINX_ERROR_LOG": str(root / "error.log"),
            **values,
        }
        self.conf = root / "nginx.conf"
        self.conf.write_text(render_template(NGINX_TEMPLATE.read_text(encoding="utf-8"), values))
        self.values = values
        self.https_port = int(values["NGINX_HTTPS_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("nginx") or next(
            (p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None
        )

    def check(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary()), "-t", "-c", str(self.conf), "-p", str(self.root)],
            capture_output=True,
            text=True,
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(self.binary()), "-c", str(self.conf), "-p", str(self.root), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_port(self.https_port, what="nginx", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for_port(
    port: int, *, what: str, proc: subprocess.Popen[bytes], timeout: float = 40
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{what} exited ({proc.returncode}): {err[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen on {port}") from None
            time.sleep(0.1)


class ConsoleProcess:
    """``hotline console`` as a deployment runs it: gunicorn, its own process group."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("hotline")), "console", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the master and its worker die together when killed
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("console exited: " + self.log.read_text()[-2000:])
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("console not ready: " + self.log.read_text()[-2000:])
            time.sleep(0.2)

    def sockets(self, namespace: str) -> float:
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        m = re.search(
            rf'^hotline_socketio_connections\{{namespace="{re.escape(namespace)}"\}} ([0-9.]+)$',
            text,
            re.M,
        )
        return float(m.group(1)) if m else 0.0

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def seed_desk_world(rt: Runtime, usernames: tuple[str, ...], elder_phone: str) -> None:
    """The console tests' accounts named (agent_hhht at PJSIP/8001, ...) and the elder 巴特尔 of
    新城区 calling from ``elder_phone``, in a database that has nothing yet."""
    with rt.session() as s:
        load_dictionary(s)
        install_defaults(s, actor=system_actor())
        for username in usernames:
            role, region, interface = USERS[username]
            accounts.create_user(
                s,
                actor=system_actor(),
                username=username,
                password=PASSWORD,
                role=role,
                region_code=region,
                display_name=username,
                sip_interface=interface,
            )
    _elder(
        rt,
        name="巴特尔",
        region="150102000000",
        area="150102",
        seq=11,
        phone=elder_phone,
        contact_phone="13800471009",
    )


def console_env(
    settings: Settings, *, pg_url: str, redis_url: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment of a console process on the tests' database and Redis namespace."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_SECRET_KEY": settings.secret_key,
        "HOTLINE_DATA_KEY": settings.data_key,
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_REDIS_NAMESPACE": settings.redis_namespace,
        **extra,
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {}),
    }
