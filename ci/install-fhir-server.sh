#!/usr/bin/env bash
# Installs the FHIR server the integration tests start (sekmet-fhir, pinned) in its own venv,
# so that its dependencies (FastAPI, uvicorn, ...) stay out of the service's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-fhir/bin/sekmet ]; then
  python3 -m venv .venv-fhir
  .venv-fhir/bin/pip install -q 'sekmet-fhir==0.1.1'
fi
.venv-fhir/bin/sekmet --help >/dev/null
echo "sekmet-fhir ready: .venv-fhir/bin/sekmet"
