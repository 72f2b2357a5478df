#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one:
#   1. installs what the tests drive: a Python venv (.venv) with moto, schemathesis and the
#      official Python client; the official Node client, the browser uploader, Uppy (with esbuild) and
#      playwright-core (tests/clients/node_modules); Debian's chromium for the browser test;
#   2. checks formatting and clippy;
#   3. builds the function binaries (profile lambda-local) the API Gateway emulator runs;
#   4. starts a moto server (DynamoDB and S3 APIs) on a free 127.0.0.1 port;
#   5. runs every workspace test, the DynamoDB and S3 ones (and the emulator's) against moto;
#   6. stops moto, whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

step "Python venv (.venv): moto server, schemathesis, the api.video client"
stamp=.venv/.requirements.sha256
want=$(sha256sum infra/requirements-test.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-test.txt
  echo "$want" > "$stamp"
else
  echo "up to date"
fi

step "npm: the official Node client, the browser uploader, playwright-core"
(cd tests/clients && npm ci --no-audit --no-fund --loglevel=error)

step "chromium (Debian) for the browser test"
if command -v chromium >/dev/null 2>&1; then
  echo "present: $(chromium --version 2>/dev/null)"
else
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  echo "installed: $(chromium --version 2>/dev/null)"
fi

step "cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml
echo "clean"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "function binaries for the API Gateway emulator tests (profile lambda-local)"
# The deployed form's suites run the real function binaries behind the API Gateway emulator
# (infra/apigw). The lambda-local profile is the release profile without LTO: see Cargo.toml
# and docs/emulator.md for why and the build times. The binary names come from template.yaml.
bins=$(sed -n 's/^ *Binary: *\([A-Za-z0-9_-]*\).*/--bin \1/p' template.yaml | tr '\n' ' ')
started=$(date +%s)
# shellcheck disable=SC2086 # one word per flag
cargo build --quiet --profile lambda-local $bins
export UPLOAD_TOKENS_LAMBDA_BIN_DIR="${CARGO_TARGET_DIR:-$root/target}/lambda-local"
echo "built in $(( $(date +%s) - started )) s: $UPLOAD_TOKENS_LAMBDA_BIN_DIR"

step "moto server on 127.0.0.1"
# shellcheck source=infra/moto.sh
. infra/moto.sh
start_moto

step "cargo test (every workspace test)"
set +e
cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log
status=${PIPESTATUS[0]}
set -e

passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' target/test-output.log | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' target/test-output.log | awk '{s += $1} END {print s + 0}')
echo
echo "workspace: $passed passed, $failed failed"
cd "$root"
exit "$status"
