"""A real FHIR server (sekmet-fhir) on a free loopback port, for the prefetch-fallback tests.

Installed by ``ci/install-fhir-server.sh`` into ``.venv-fhir``. Locally a missing server
skips these tests; under CI (``CI`` set) it fails them, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _binary() -> Path | None:
    candidate = Path(os.environ.get("LBP_CDS_SEKMET", ROOT / ".venv-fhir" / "bin" / "sekmet"))
    return candidate if candidate.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = _binary()
    if binary is None:
        message = "sekmet-fhir is not installed: run bash ci/install-fhir-server.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("fhir")
    port = _free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    config = workdir / "settings.yaml"
    config.write_text(
        f"base_url: {base}\nhost: 127.0.0.1\nport: {port}\ndb_path: {workdir / 'fhir.db'}\n"
        "simulator:\n  enabled: false\nlog_inbound: false\n",
        encoding="utf-8",
    )
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen([str(binary), "serve", "--config", str(config)], cwd=workdir,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sekmet-fhir did not start: {(workdir / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def put():
    """Store a resource under its own id (PUT), as an EHR's FHIR server would hold it."""

    def store(base: str, resource: dict[str, Any]) -> None:
        url = f"{base}/{resource['resourceType']}/{resource['id']}"
        response = requests.put(url, json=resource, headers={"Content-Type": "application/fhir+json"}, timeout=10)
        assert response.status_code in (200, 201), response.text

    return store
