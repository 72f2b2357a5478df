#!/usr/bin/env bash
# Benchmarks; each writes its section of BENCHMARKS.md.
#   ./infra/bench.sh upload       256 MiB through /upload in 4 and 16 MiB chunks, to the embedded
#                                 store and to DynamoDB + S3 on moto, against plain disk writes and
#                                 a plain SDK multipart upload measured in the same run (needs
#                                 .venv: run ./infra/test.sh once first).
#   ./infra/bench.sh cold-start   every release Lambda binary exec'd against a local Lambda Runtime
#                                 API: init and first response (median, p90) against a hello-world
#                                 lambda_http binary built with the same profile, and sizes.
#   ./infra/bench.sh growth       a chunk without videoId (a first chunk, and a `part 2/3`
#                                 continuation) on a token with 100,000 completed uploads against
#                                 a fresh token in the same run, on the embedded store and on
#                                 DynamoDB + S3 on moto, and the legacy per-token set older
#                                 versions left on DynamoDB (needs .venv, as upload).
#   ./infra/bench.sh              all of the above.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case "$what" in
  all | upload | cold-start | growth) ;;
  *) echo "usage: $0 [upload|cold-start|growth]" >&2; exit 2 ;;
esac
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
moto_version=$(sed -n 's/^moto\[server\]==//p' infra/requirements-test.txt)
mkdir -p target
thousands() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

# shellcheck source=infra/moto.sh
. infra/moto.sh
# fresh_moto: a moto server of its own for each benchmark (one Python process keeps everything
# in memory: what one benchmark wrote would weigh on the next one's timings).
fresh_moto() {
  if [ -n "${moto_pid:-}" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
  fi
  start_moto
}

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
  fresh_moto
  table=$(cargo bench -p e2e-tests --bench upload 2>target/bench-upload.log)
  cat target/bench-upload.log >&2
  write_section "Upload throughput" "\`./infra/bench.sh upload\` on $(date -I) ($machine; moto $moto_version).
256 MiB through the \`/upload\` handler in-process (multipart body per chunk, the real
stores), each against its baseline from the same run: (a') the same bytes written straight
to disk, (b') a plain SDK multipart upload to the same moto. A ratio of 1.00× means as fast
as the baseline. Peak RSS is each phase's own process (the 256 MiB source buffer included)." "$table"
  echo "BENCHMARKS.md: upload throughput updated"
fi

if [ "$what" = cold-start ] || [ "$what" = all ]; then
  cargo build --release --quiet -p cold-start-bench -p upload-tokens-lambda
  runs=${COLD_START_RUNS:-30}
  target_dir=${CARGO_TARGET_DIR:-target}
  table=$("$target_dir/release/cold-start" --runs "$runs" --bin-dir "$target_dir/release" --lambda-dir "$target_dir/lambda")
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

if [ "$what" = growth ] || [ "$what" = all ]; then
  fresh_moto
  # moto keeps a deep copy of the whole table per transaction item (tests/benches/growth.rs): cap
  # its address space so that a runaway run fails the benchmark rather than exhausts the machine.
  prlimit --pid "$moto_pid" --as=$((12 * 1024 * 1024 * 1024))
  export GROWTH_UPLOADS=${GROWTH_UPLOADS:-100000} GROWTH_RUNS=${GROWTH_RUNS:-30}
  export GROWTH_MOTO_RUNS=${GROWTH_MOTO_RUNS:-1} GROWTH_LEGACY_IDS=${GROWTH_LEGACY_IDS:-16000}
  export GROWTH_LEGACY_REPEATS=${GROWTH_LEGACY_REPEATS:-3}
  table=$(cargo bench -p e2e-tests --bench growth 2> >(tee target/bench-growth.log >&2))
  write_section "Per-token state at scale" "\`./infra/bench.sh growth\` on $(date -I) ($machine; moto $moto_version).
A chunk without \`videoId\` through the \`/upload\` handler in-process (1 KiB file parts, the real
stores), on a token with $(thousands "$GROWTH_UPLOADS") completed uploads against the same chunk on a fresh token of
the same store (created in the same run; it has only the bench's own completed uploads), runs
interleaved after untimed warm-up rounds. *first* is a first chunk (the store reads the token's
latest video: \`latest_video_of_token\`), *continuation* a \`part 2/3\` after a \`part 1/3\`, both
without \`videoId\` (the store reads the token's unfinished uploads: \`uploading_videos_of_token\`);
each run then completes its upload with \`videoId\`, untimed. *chunk* is the whole request through
\`dispatch\`; *per-token read* the time it spent in that store call (a timing wrapper around the
store), or that call made alone (rows marked *alone*). On moto, whole chunks in the seeded table
ran only $GROWTH_MOTO_RUNS time(s) per token: moto copies the whole table for every item of a
transaction (see below). The completed uploads are written straight into the store (seeding table):
their records are a real completed upload's record read back from the store, with new ids and
dates, encoded by the stores' own encoder; their chunk records and blob bytes are not written
(nothing on these paths reads them). Legacy rows: the token's \`UPLOADS#\` item given a
\`videoIds\` set of $(thousands "$GROWTH_LEGACY_IDS") ids of its completed videos (what versions before 18bd3d6 left; 100,000
ids would not fit a 400 KB item), $GROWTH_LEGACY_REPEATS times." "$table"
  echo "BENCHMARKS.md: per-token state at scale updated"
fi
