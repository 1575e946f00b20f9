"""CI: schemathesis against /openapi.json of the service started the container's way.

Authentication off (documented: the fuzzing is about what the endpoints accept and answer, not who
may call; tests/test_auth.py covers tokens), prefetch-only (no generated fhirServer is ever called),
bounded examples and a fixed seed so a failure can be replayed. Usage: run_schemathesis.py SCHEMATHESIS
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.served import Served  # noqa: E402

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def main() -> int:
    schemathesis = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        served = Served(Path(tmp), {"LBP_CDS_DATA_DIR": str(Path(tmp) / "data"), "LBP_CDS_AUTH": "off",
                                    "LBP_CDS_PREFETCH_ONLY": "true", "WEB_CONCURRENCY": "1"})
        try:
            run = subprocess.run(
                [schemathesis, "run", f"{served.base}/openapi.json", "--checks", CHECKS,
                 "--max-examples", "20", "--seed", "20261123", "--workers", "1",
                 "--suppress-health-check", "all"],
                check=False, timeout=1200, capture_output=True, text=True,
            )
        finally:
            served.stop()
    print(quiet_summary(run.stdout), end="")
    print(run.stderr, end="", file=sys.stderr)
    return run.returncode


def quiet_summary(output: str) -> str:
    """Schemathesis ends with a pytest-style "=== N warnings in Xs ===" line; CI logs are read for
    the test suite's own summary line, so this one is reworded to say whose it is."""
    return re.sub(r"^=+ (.*?) =+$", r"schemathesis summary: \1", output, flags=re.MULTILINE)


if __name__ == "__main__":
    sys.exit(main())
