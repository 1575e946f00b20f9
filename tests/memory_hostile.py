"""Peak memory of one hook call whose FHIR server sends a gzip bomb or a huge bundle (loopback).

Not a test: the figures go into docs/security.md. Each case runs in a fresh process so that
the peak resident size (ru_maxrss) is that case's alone.

    .venv/bin/python -m tests.memory_hostile
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import tracemalloc


def one(mode: str) -> None:
    from service import create_app
    from tests.hookreq import hook_request, imaging_order
    from tests.hostile_fhir import HostileFhir

    fhir = HostileFhir().start()
    app = create_app({"TESTING": True})
    client = app.test_client()
    body = hook_request("order-select", orders=(imaging_order(),), fhirServer=fhir.base(mode, "all"))
    client.post("/cds-services/lbp-order-select", json=hook_request("order-select", orders=(imaging_order(),),
                                                                      fhirServer=fhir.base("ok")))  # warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    started = time.monotonic()
    response = client.post("/cds-services/lbp-order-select", json=body)
    elapsed = time.monotonic() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fhir.stop()
    print(json.dumps({"server sends": mode, "status": response.status_code, "seconds": round(elapsed, 2),
                      "python_peak_mb": round(peak / 1e6, 1), "rss_before_mb": round(before / 1e3),
                      "rss_peak_mb": round(after / 1e3), "bytes_sent_by_server_mb": round(fhir.bytes_sent / 1e6, 1)}))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        one(sys.argv[1])
    else:
        for case in ("bomb", "huge"):
            subprocess.run([sys.executable, "-m", "tests.memory_hostile", case], check=True, timeout=120)
