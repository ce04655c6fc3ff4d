#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need, then type-checks and runs every test.
# Fails loudly: any failing step stops the script with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Debian packages: the Python trainers (Debian's own python3) and their test runner.
APT_PACKAGES=(python3-numpy python3-torch python3-xgboost python3-sklearn python3-onnx python3-pytest python3-yaml prometheus librdkafka-dev kcat gcc libc6-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  step "apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "npm install (the lock file pins every version; npm ci refuses it here because the registry lacks chdb's macOS builds)"
ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund

step "tsc --noEmit"
npx tsc --noEmit

step "vitest"
mkdir -p var
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json=var/vitest.json
vitest_rc=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync("var/vitest.json", "utf8"));
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
  if (r.numTotalTests === 0) { console.error("vitest ran no test"); process.exit(1); }
'
[ "$vitest_rc" -eq 0 ] || { echo "vitest failed (exit $vitest_rc)"; exit "$vitest_rc"; }

step "pytest (Debian python3)"
/usr/bin/python3 -m pytest -q training/tests

step "all tests passed"
