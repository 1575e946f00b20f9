"""The service started the container's way: gunicorn with deploy/gunicorn.conf.py, settings only by environment.

What ``deploy/Dockerfile`` runs (``gunicorn -c gunicorn.conf.py`` with ``LBP_CDS_BIND``), here on a
free loopback port with a temporary DATA_DIR, a clients file naming one EHR and a key to mint its
tokens. Used by tests/test_container_start.py and tests/test_shared_store.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parent.parent
ISS = "https://ehr.example.dk"
KID = "served-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_clients(path: Path, key: ec.EllipticCurvePrivateKey, fhir_servers: list[str]) -> Path:
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    doc = {"clients": [{"iss": ISS, "jwks": {"keys": [{**public, "kid": KID, "alg": "ES384", "use": "sig"}]},
                        "fhirServers": fhir_servers or ["https://ehr.example.dk/fhir"], "profile": "generic"}]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


class Served:
    """One gunicorn master (with its workers) on 127.0.0.1; ``stop()`` sends SIGTERM like Kubernetes."""

    def __init__(self, workdir: Path, env: Mapping[str, str], key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.key = key
        self.log = (workdir / f"gunicorn-{self.port}.log").open("w+", encoding="utf-8")
        environment = {
            # Only what a container has: a PATH, the code on PYTHONPATH, and settings.
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HOME": str(workdir),
            "LBP_CDS_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{self.port}"),
            **env,
        }
        self.metrics_dir = Path(environment["PROMETHEUS_MULTIPROC_DIR"])
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py")],
            cwd=str(workdir), env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.started = time.monotonic()
        self.ready_after = self._wait_ready(timeout=90)

    def _wait_ready(self, timeout: float) -> float:
        ends = time.monotonic() + timeout
        while time.monotonic() < ends:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.process.returncode}: {self.output()[-3000:]}")
            try:
                if self.get("/readyz")[0] == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready after {timeout} s: {self.output()[-3000:]}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def token(self, url: str) -> str:
        assert self.key is not None
        now = int(time.time())
        claims = {"iss": ISS, "aud": url, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": KID})

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                headers: Mapping[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes, Mapping[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=dict(headers or {}))
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (loopback)
                return answer.status, answer.read(), dict(answer.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def get(self, path: str, **kwargs: Any) -> tuple[int, bytes, Mapping[str, str]]:
        return self.request("GET", path, **kwargs)

    def call(self, service_id: str, body: Any, *, feedback: bool = False, token: str | None = None) -> tuple[int, Any]:
        path = f"/cds-services/{service_id}" + ("/feedback" if feedback else "")
        status, raw, _ = self.request("POST", path, body, token=token or self.token(self.base + path))
        return status, json.loads(raw) if raw else None

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode
