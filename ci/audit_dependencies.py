"""Audit requirements.lock against a vulnerability database, and fail unless it really did.

pip-audit says "No known vulnerabilities found" and exits 0 even when it audited nothing
(every package skipped because its vulnerability service could not be reached). This
script runs pip-audit with JSON output and passes only when every pinned package was
actually audited and none has a known vulnerability.

Where PyPI's per-release JSON (/pypi/<name>/<version>/json, what pip-audit asks) is not
served but the project JSON (/pypi/<name>/json) is — some mirrors and proxies — a package
pip-audit skipped is checked against the project JSON instead, which lists the
vulnerabilities of the *latest* release only: so it counts as audited only if our pin is
that latest release. Anything else fails, loudly.

    python ci/audit_dependencies.py requirements.lock --pip-audit .venv-audit/bin/pip-audit
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    return {canonical(name): version for name, version in PIN.findall(lock.read_text(encoding="utf-8"))}


def run_pip_audit(pip_audit: str, lock: Path) -> list[dict[str, Any]]:
    command = [pip_audit, "-r", str(lock), "--require-hashes", "--disable-pip", "--vulnerability-service", "pypi",
               "--format", "json", "--progress-spinner", "off"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    # Exit 1 means "vulnerabilities found"; anything else without JSON means it did not run.
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"AUDIT DID NOT RUN: pip-audit exited {done.returncode} without a report:\n{done.stderr[-2000:]}")
    dependencies: list[dict[str, Any]] = report.get("dependencies", [])
    return dependencies


def project_json(name: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as answer:  # noqa: S310
            data: dict[str, Any] = json.load(answer)
            return data
    except (urllib.error.URLError, TimeoutError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lock", type=Path)
    parser.add_argument("--pip-audit", default="pip-audit")
    args = parser.parse_args()

    pinned = pins(args.lock)
    if not pinned:
        sys.exit(f"AUDIT DID NOT RUN: no pinned packages found in {args.lock}")
    audited: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for dependency in run_pip_audit(args.pip_audit, args.lock):
        name = canonical(dependency["name"])
        if "skip_reason" in dependency:
            skipped[name] = dependency["skip_reason"]
        else:
            audited[name] = [v["id"] for v in dependency.get("vulns", [])]
    via_project_json = []
    for name in sorted(skipped):
        data = project_json(name)
        if data is None or data.get("info", {}).get("version") != pinned.get(name):
            continue
        audited[name] = [v["id"] for v in data.get("vulnerabilities", []) if not v.get("withdrawn")]
        via_project_json.append(name)
        del skipped[name]

    missing = sorted(set(pinned) - set(audited))
    vulnerable = {name: ids for name, ids in audited.items() if ids}
    print(f"audited {len(audited)} of {len(pinned)} pinned packages "
          f"({len(via_project_json)} via PyPI's project JSON because pip-audit skipped them)")
    if vulnerable:
        for name, ids in sorted(vulnerable.items()):
            print(f"VULNERABLE: {name}=={pinned.get(name)}: {', '.join(ids)}", file=sys.stderr)
        sys.exit("known vulnerabilities in pinned versions: upgrade the pins (pip-compile --upgrade-package NAME)")
    if missing or not audited:
        for name in missing:
            print(f"NOT AUDITED: {name}=={pinned[name]}: {skipped.get(name, 'not in the report')}", file=sys.stderr)
        sys.exit(f"AUDIT INCOMPLETE: {len(missing)} of {len(pinned)} pinned packages could not be checked against "
                 "a vulnerability database. This is not a pass.")
    print("no known vulnerabilities in any pinned package")


if __name__ == "__main__":
    main()
