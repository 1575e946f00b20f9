"""deploy/k8s and deploy/Dockerfile agree with the code: probes, ports, shutdown timing, settings.

Rendering and schema validation of the overlays run in CI (ci/lint-deploy.sh: kubectl kustomize,
kubernetes-validate, yamllint); these checks need only the source files.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml

from service import create_app
from service.config import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy/k8s/base"


def deployment() -> dict:
    return yaml.safe_load((BASE / "deployment.yaml").read_text(encoding="utf-8"))


def container() -> dict:
    return deployment()["spec"]["template"]["spec"]["containers"][0]


def test_probes_point_at_the_health_endpoints(tmp_path):
    adapter = create_app({"TESTING": True, "AUTH": "off", "DATA_DIR": str(tmp_path)}).url_map.bind("localhost")
    spec = container()
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        endpoint, _ = adapter.match(spec[probe]["httpGet"]["path"], method="GET")
        assert endpoint.startswith("health.")


def test_in_flight_calls_have_time_to_finish_on_sigterm():
    """preStop sleep + gunicorn graceful_timeout fit in terminationGracePeriodSeconds, and the
    graceful timeout outlasts the FHIR deadline (a call waiting on a slow server still answers)."""
    pod = deployment()["spec"]["template"]["spec"]
    pre_stop = int(container()["lifecycle"]["preStop"]["exec"]["command"][1])
    graceful = max(20, math.ceil(float(DEFAULTS["FHIR_DEADLINE"])) + 10)  # deploy/gunicorn.conf.py
    conf = (ROOT / "deploy/gunicorn.conf.py").read_text(encoding="utf-8")
    assert 'graceful_timeout = max(20, math.ceil(float(_setting("FHIR_DEADLINE"))) + 10)' in conf
    assert graceful >= float(DEFAULTS["FHIR_DEADLINE"]) + 5
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + graceful + 5


def test_the_container_listens_where_the_manifests_look():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text(encoding="utf-8")
    assert "LBP_CDS_BIND=0.0.0.0:8080" in dockerfile and "EXPOSE 8080" in dockerfile
    assert container()["ports"][0]["containerPort"] == 8080
    assert re.search(r"^USER \d+:\d+$", dockerfile, re.M), "a numeric non-root user (runAsNonRoot can check it)"
    assert "PROMETHEUS_MULTIPROC_DIR=/tmp/" in dockerfile  # /tmp is the pod's writable emptyDir
    mounts = {m["mountPath"] for m in container()["volumeMounts"]}
    assert {"/tmp", "/var/lib/lbp-cds"} <= mounts
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_image_copies_what_the_app_reads():
    dockerfile = (ROOT / "deploy/Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", dockerfile, re.M))
    for default in ("CARDS_DIR", "PROFILES_DIR", "SCENARIOS_DIR"):
        relative = Path(DEFAULTS[default]).relative_to(ROOT).as_posix() + "/"
        assert relative in copied, f"{relative} ({default}) is not in the image"
    assert {"service/", "deploy/gunicorn.conf.py", "requirements.lock"} <= copied


def test_settings_in_the_manifests_are_real_settings():
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "deploy/k8s").rglob("*.yaml"))
    names = set(re.findall(r"\b(LBP_CDS_[A-Z_]+)\b", text))
    known = {f"LBP_CDS_{n}" for n in DEFAULTS} | {"LBP_CDS_ADMIN_TOKEN"}  # ADMIN_TOKEN: the storage branch
    assert names and names <= known, sorted(names - known)
