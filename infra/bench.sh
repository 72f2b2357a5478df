#!/usr/bin/env bash
# Benchmarks; each writes its section of BENCHMARKS.md.
#   ./infra/bench.sh upload       256 MiB through /upload in 4 and 16 MiB chunks, to the embedded
#                                 store and to DynamoDB + S3 on moto, against plain disk writes and
#                                 a plain SDK multipart upload measured in the same run (needs
#                                 .venv: run ./infra/test.sh once first).
#   ./infra/bench.sh cold-start   every release Lambda binary exec'd against a local Lambda Runtime
#                                 API: init and first response (median, p90) against a hello-world
#                                 lambda_http binary built with the same profile, and sizes.
#   ./infra/bench.sh              both.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"

# write_section <title> <intro> <table>: replaces (or appends) "## <title>" in BENCHMARKS.md.
write_section() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, re, sys
title, intro, table = sys.argv[1:4]
path = "BENCHMARKS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
section = f"## {title}\n\n{intro.strip()}\n\n{table.strip()}\n"
pattern = re.compile(r"## " + re.escape(title) + r"\n.*?(?=\n## |\Z)", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(path, "w").write(text)
PY
}

if [ "$what" = upload ] || [ "$what" = all ]; then
  # shellcheck source=infra/moto.sh
  . infra/moto.sh
  start_moto
  table=$(cargo bench -p e2e-tests --bench upload 2>target/bench-upload.log)
  cat target/bench-upload.log >&2
  moto=$(sed -n 's/^moto\[server\]==//p' infra/requirements-test.txt)
  write_section "Upload throughput" "\`./infra/bench.sh upload\` on $(date -I) ($machine; moto $moto).
256 MiB through the \`/upload\` handler in-process (multipart body per chunk, the real
stores), each against its baseline from the same run: (a') the same bytes written straight
to disk, (b') a plain SDK multipart upload to the same moto. A ratio of 1.00× means as fast
as the baseline. Peak RSS is each phase's own process (the 256 MiB source buffer included)." "$table"
  echo "BENCHMARKS.md: upload throughput updated"
fi

if [ "$what" = cold-start ] || [ "$what" = all ]; then
  cargo build --release --quiet -p cold-start-bench -p upload-tokens-lambda
  runs=${COLD_START_RUNS:-30}
  table=$(target/release/cold-start --runs "$runs" --bin-dir target/release --lambda-dir target/lambda)
  write_section "Cold start and binary size" "\`./infra/bench.sh cold-start\` on $(date -I) ($machine). Each release binary is exec'd
against a local Lambda Runtime API (\`infra/cold-start\`), $runs times after a warm-up round, taking
the binaries in turn: *init* is exec → first \`GET /runtime/invocation/next\`, *first response*
is exec → the response to one API Gateway v2 event without credentials (401/400 at once, no
store access). The ratios compare medians with \`hello-lambda\`, lambda_http's hello world
built with the same release profile in the same run. *AWS connections* counts connections to
\`AWS_ENDPOINT_URL\` (a local listener) before the first response, over all runs: any network
I/O during init would show there. Sizes are the stripped binaries: x86_64 from this build,
arm64 from the last \`./infra/deploy-check.sh\` (cargo-lambda), – when absent." "$table"
  echo "BENCHMARKS.md: cold start updated"
fi
