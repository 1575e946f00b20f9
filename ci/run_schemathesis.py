"""CI: schemathesis against /openapi.json of the service started the container's way.

Authentication off (documented: the fuzzing is about what the endpoints accept and answer, not who
may call; tests/test_auth.py covers tokens), prefetch-only (no generated fhirServer is ever called),
bounded examples and a fixed seed so a failure can be replayed. Usage: run_schemathesis.py SCHEMATHESIS
"""

from __future__ import annotations

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
            return subprocess.run(
                [schemathesis, "run", f"{served.base}/openapi.json", "--checks", CHECKS,
                 "--max-examples", "20", "--seed", "20261123", "--workers", "1",
                 "--suppress-health-check", "all"],
                check=False, timeout=1200,
            ).returncode
        finally:
            served.stop()


if __name__ == "__main__":
    sys.exit(main())
