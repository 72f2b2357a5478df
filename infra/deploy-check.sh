#!/usr/bin/env bash
# Everything short of deploying, as far as a machine without an AWS account can go:
#   1. installs the deploy tools into .venv-deploy (cargo-lambda with zig, aws-sam-cli, cfn-lint)
#      and the aarch64 Rust target;
#   2. lints template.yaml (cfn-lint, then `sam validate --lint`, offline);
#   3. cross-compiles every Lambda function for arm64 (Graviton) with cargo-lambda, as
#      `sam build` does, and checks each stripped binary is at most 8 MB;
#   4. with --sam-build, also runs `sam build` (one cargo-lambda build per function: slow).
# Then `sam deploy --guided` is the only step left (see the README's Deploy section).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
functions=(create-token list-tokens get-token delete-token auth upload get-video update-video delete-video video-status)

step "deploy tools (.venv-deploy): cargo-lambda, aws-sam-cli, cfn-lint"
want="cargo-lambda==1.9.2 aws-sam-cli==1.170.0 cfn-lint==1.58.0"
if [ ! -x .venv-deploy/bin/sam ] || [ "$(cat .venv-deploy/.tools 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv-deploy
  # shellcheck disable=SC2086
  .venv-deploy/bin/pip install --quiet --disable-pip-version-check $want
  echo "$want" > .venv-deploy/.tools
else
  echo "up to date"
fi
export PATH="$PWD/.venv-deploy/bin:$PATH"
rustup target add aarch64-unknown-linux-gnu >/dev/null

step "cfn-lint template.yaml"
cfn-lint template.yaml && echo "clean"

step "sam validate --lint (offline)"
AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} sam validate --lint

step "cargo lambda build --release --arm64 (every function)"
# One package, one binary per function (functions/lambda/src/bin).
cargo lambda build --release --arm64 -p upload-tokens-lambda

step "binary sizes (stripped, arm64; goal ≤ 8 MB each)"
status=0
for f in "${functions[@]}"; do
  size=$(stat -c %s "target/lambda/$f/bootstrap")
  verdict=ok
  [ "$size" -le 8000000 ] || { verdict="OVER 8 MB"; status=1; }
  printf '%-14s %6.2f MB  %s\n' "$f" "$(echo "$size / 1000000" | bc -l)" "$verdict"
done

if [ "${1:-}" = "--sam-build" ]; then
  step "sam build"
  sam build
fi
exit "$status"
