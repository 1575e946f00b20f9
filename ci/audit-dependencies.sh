#!/usr/bin/env bash
# Supply chain: audit the pinned runtime dependencies (requirements.lock) for known vulnerabilities.
# pip-audit lives in its own venv (.venv-audit) so it never shares the service's dependencies.
# Fails when a pin is vulnerable AND when the audit could not actually check every pin.
# Regenerate the lock after changing dependencies in pyproject.toml:
#   .venv-audit/bin/pip-compile --generate-hashes --extra server --strip-extras --no-emit-index-url \
#     --no-emit-find-links -o requirements.lock pyproject.toml
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-audit/bin/pip-audit ]; then
  python3 -m venv .venv-audit
  .venv-audit/bin/pip install -q 'pip-audit==2.10.1' 'pip-tools==7.6.2'
fi
python3 ci/audit_dependencies.py requirements.lock --pip-audit .venv-audit/bin/pip-audit
