#!/usr/bin/env bash
# Benchmarks; each writes its section of BENCHMARKS.md.
#   ./infra/bench.sh upload       256 MiB through /upload in 4 and 16 MiB chunks, to the embedded
#                                 store and to DynamoDB + S3 on moto, against plain disk writes and
#                                 a plain SDK multipart upload measured in the same run (needs
#                                 .venv: run ./infra/test.sh once first).
#   ./infra/bench.sh cold-start   the release binaries of the token and media functions exec'd
#                                 against a local Lambda Runtime API: init and first response
#                                 (median, p90), without and with a first store request, started
#                                 on demand and for provisioned concurrency, against a hello-world
#                                 lambda_http binary built with the same profile, and sizes.
#   ./infra/bench.sh growth       a chunk without videoId (a first chunk, and a `part 2/3`
#                                 continuation) on a token with 100,000 completed uploads against
#                                 a fresh token in the same run, on the embedded store and on
#                                 DynamoDB + S3 on moto, and the legacy per-token set older
#                                 versions left on DynamoDB (needs .venv, as upload).
#   ./infra/bench.sh integrity-cost
#                                 upload throughput at 16 MiB chunks before the integrity work
#                                 (commit $INTEGRITY_BEFORE, default 40fe024) and now: each commit's
#                                 own upload bench (built from a temporary git worktree of the old
#                                 commit, or $INTEGRITY_BEFORE_DIR) run phase by phase, rounds
#                                 alternating before/after ($INTEGRITY_ROUNDS, default 5), each
#                                 against its same-run baselines (needs .venv, as upload).
#   ./infra/bench.sh tokens       token policy's cost per chunk (an upload with a policy against the
#                                 same upload without one, interleaved rounds, both stores) and
#                                 GET /v2/tokens at depth (first against last page over 10,000
#                                 tokens, SQLite and DynamoDB on moto) (needs .venv, as upload).
#   ./infra/bench.sh direct       S3-direct: 256 MiB through the signing endpoints (local server on
#                                 DynamoDB + S3 on moto), parts PUT to presigned URLs, against a
#                                 plain SDK multipart upload of the same bytes in the same run;
#                                 signing calls per GiB and their latency (needs .venv, as upload).
#   ./infra/bench.sh tus          tus 1.0 (SPEC §10): 256 MiB by a creation POST and sequential PATCHes
#                                 of 4 and 16 MiB to the local server (release `local-api --store
#                                 aws`, DynamoDB + S3 on moto) against @tus/server + @tus/s3-store
#                                 (npm, pinned in infra/bench-tus, installed here with `npm ci`) on
#                                 the same moto, same client, interleaved rounds; S3 and DynamoDB
#                                 calls per PATCH of each, counted by a proxy in front of moto
#                                 (needs .venv, as upload, and Node >= 20.19).
#   ./infra/bench.sh list         GET /upload-tokens at scale: first, middle and last page (25) over
#                                 HTTP, each sort order, 100 against 100,000 tokens on SQLite and
#                                 100 against 20,000 on DynamoDB (moto), with a bare 25-item Query
#                                 of the same moto table as baseline (needs .venv, as upload).
#   ./infra/bench.sh http         request rate over HTTP (wrk, 32 connections; installed with apt-get
#                                 if missing): GET /upload-tokens/{token}, a list page, a token
#                                 creation and a 1 MiB /upload, on the release local server
#                                 (embedded store, Basic auth) against a hello-world axum server
#                                 (infra/hello-http) answering the same paths with bodies of the
#                                 same sizes, interleaved rounds ($HTTP_ROUNDS, default 5, of
#                                 $HTTP_SECONDS, default 10 s, each), median; $HTTP_LOCAL_API
#                                 measures another build of local-api (before/after).
#   ./infra/bench.sh              all of the above.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case "$what" in
  all | upload | cold-start | growth | integrity-cost | tokens | direct | tus | list | http) ;;
  *) echo "usage: $0 [upload|cold-start|growth|integrity-cost|tokens|direct|tus|list|http]" >&2; exit 2 ;;
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
  target_dir=${CARGO_TARGET_DIR:-target}
  # Only the binaries the benchmark execs (each release binary is a fat-LTO link of its own).
  cargo build --release --quiet -p cold-start-bench --bin cold-start --bin hello-lambda
  functions=$("$target_dir/release/cold-start" --list | sed 's/^/--bin /' | tr '\n' ' ')
  # shellcheck disable=SC2086 # one word per flag and name
  cargo build --release --quiet -p upload-tokens-lambda $functions
  runs=${COLD_START_RUNS:-30}
  # cold_start [flag…]: the benchmark's table over those binaries.
  cold_start() {
    "$target_dir/release/cold-start" --runs "$runs" --bin-dir "$target_dir/release" \
      --lambda-dir "$target_dir/lambda" "$@"
  }
  table=$(cold_start)
  ahead=$(cold_start --initialization-type provisioned-concurrency)
  table="$table

The same binaries, same method, started as Lambda starts an environment for provisioned
concurrency (\`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency\`: init runs before any
request, so the functions build their SDK clients during init):

$ahead"
  write_section "Cold start and binary size" "\`./infra/bench.sh cold-start\` on $(date -I) ($machine). Each release binary is exec'd
against a local Lambda Runtime API (\`infra/cold-start\`), $runs times after a warm-up round, taking
the binaries in turn, with \`AWS_LAMBDA_INITIALIZATION_TYPE=on-demand\` (what Lambda sets on a
cold start that a request caused: the functions build their SDK clients on the first request): *init* is exec → first \`GET /runtime/invocation/next\`, *first response*
is exec → the response to one API Gateway v2 event without credentials (401/400 at once, no
store access). *First store response* is exec → the response in a second cold start, to an
event that needs the store (an API key in \`Authorization: Basic\`, the body's key for
\`auth\`, \`?token=\` for \`upload\`): the function's first AWS request, over loopback to a
stand-in answering \`200 {}\` (no such item, so 401; 400 from \`auth\`): what the first client pays for its
SDK client wherever it is built. The ratios compare medians with \`hello-lambda\`,
lambda_http's hello world built with the same release profile in the same run. *AWS
connections* counts connections to \`AWS_ENDPOINT_URL\` (the stand-in) before the first
response of the cold starts without store access, over all runs: any network I/O during init
would show there. Sizes are the stripped binaries: x86_64 from this build,
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

if [ "$what" = tokens ] || [ "$what" = all ]; then
  fresh_moto
  export POLICY_ROUNDS=${POLICY_ROUNDS:-9} LIST_TOKENS=${LIST_TOKENS:-10000} LIST_RUNS=${LIST_RUNS:-15}
  out=$(cargo bench -p e2e-tests --bench tokens 2> >(tee target/bench-tokens.log >&2))
  policy_table=$(printf '%s\n' "$out" | awk 'BEGIN{p=1} /^$/{p=0} p')
  list_table=$(printf '%s\n' "$out" | awk 'f; /^$/{f=1}')
  write_section "Token policy per chunk" "\`./infra/bench.sh tokens\` on $(date -I) ($machine; moto $moto_version).
The same upload in 1 MiB chunks through the \`/upload\` handler in-process (the real stores), with
a token that sets every limit of SPEC §7 (size, \`video/*\` checked by the file's first bytes,
\`maxUploads\`, an allowed origin sent by every request, a video preset) and with a token of no
policy, in $POLICY_ROUNDS interleaved rounds (alternating which goes first). Both tokens count
their usage (in every chunk's transaction): the difference is the policy's checks alone. A
ratio of 1.00× means the policy costs nothing measurable." "$policy_table"
  write_section "/v2/tokens at depth" "\`./infra/bench.sh tokens\` on $(date -I) ($machine; moto $moto_version).
\`GET /v2/tokens?limit=25\` over HTTP against the local server, on a project of $(thousands "$LIST_TOKENS")
active tokens (half api.video tokens, half named; seeded through the store API): the first
page against the last one, reached by following \`links.next\` and timed with its cursor,
median of $LIST_RUNS requests each. A cursor is a position in the creation index, so the last
page costs what the first does; 1.00× is the goal." "$list_table"
  echo "BENCHMARKS.md: token policy and /v2 listing updated"
fi

if [ "$what" = list ] || [ "$what" = all ]; then
  fresh_moto
  export LIST_RUNS=${LIST_RUNS:-9} LIST_SMALL=${LIST_SMALL:-100}
  export LIST_LARGE_EMBEDDED=${LIST_LARGE_EMBEDDED:-100000} LIST_LARGE_MOTO=${LIST_LARGE_MOTO:-20000}
  out=$(cargo bench -p e2e-tests --bench list 2> >(tee target/bench-list.log >&2))
  pages_table=$(printf '%s\n' "$out" | awk 'BEGIN{p=1} /^$/{p=0} p')
  moto_table=$(printf '%s\n' "$out" | awk 'f; /^$/{f=1}')
  write_section "Token lists at scale" "\`./infra/bench.sh list\` on $(date -I) ($machine; moto $moto_version).
\`GET /upload-tokens?sortBy=…&sortOrder=…&currentPage=N&pageSize=25\` over HTTP against the local
server (Basic auth), median of $LIST_RUNS requests per point, on a project of $(thousands "$LIST_SMALL") active
tokens and one of $(thousands "$LIST_LARGE_EMBEDDED") (SQLite) or $(thousands "$LIST_LARGE_MOTO") (DynamoDB on moto): the
first page, the middle one (page ⌊pages/2⌋) and the last. Half the tokens never expire, half
expire in a day or more (a distinct second each). Tokens are seeded through the stores in bulk
and counted as inserts are; every response is checked (25 tokens, \`itemsTotal\` exact).
The goal: first and last page of the large project within 3× of the small one's." "$pages_table

moto answers every Query by walking the whole table, whatever its \`Limit\`: the bare 25-item
Query of the same index, timed through the SDK in the same run, is what moto itself costs at
that size. Ours ÷ it is what the listing costs on top (the total's reads, the page's).

$moto_table"
  echo "BENCHMARKS.md: token lists at scale updated"
fi

if [ "$what" = direct ] || [ "$what" = all ]; then
  fresh_moto
  out=$(cargo bench -p e2e-tests --bench direct 2> >(tee target/bench-direct.log >&2))
  write_section "S3-direct" "\`./infra/bench.sh direct\` on $(date -I) ($machine; moto $moto_version).
256 MiB as Uppy's S3 uploader sends it (SPEC §9): \`POST …/s3/multipart\`, per 16 MiB part a
signature from the local server (\`--store aws\`: DynamoDB and S3 on moto) and a PUT of the part to
its presigned URL, then \`complete\` (the server lists the parts, completes, reads the first bytes
and commits the video); against a plain SDK multipart upload of the same bytes in the same part
size to the same moto; 5 interleaved rounds (alternating which goes first), median MiB/s, and the
median of the rounds' ratios. Our code is out of the byte path: ≈ 1.0× is the expectation. What
separates the two here is the signing itself, sequential in this run: each part's signature
reads the token and the video from the table (moto answers in a few ms), and the completion
lists the parts, completes, reads the first bytes and commits. Uppy signs the next parts while
others upload (6 at once by default), so in a browser the signatures overlap the transfers." "$out"
  echo "BENCHMARKS.md: S3-direct updated"
fi

if [ "$what" = tus ] || [ "$what" = all ]; then
  fresh_moto
  cargo build --release --quiet -p local-api
  # The peer server's packages live apart from tests/clients: CI never installs them.
  (cd infra/bench-tus && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  export TUS_MIB=${TUS_MIB:-256} TUS_ROUNDS=${TUS_ROUNDS:-5}
  tus_started=$(date +%s)
  out=$(node infra/bench-tus/bench.mjs --local-api "${CARGO_TARGET_DIR:-target}/release/local-api" \
    2> >(tee target/bench-tus.log >&2))
  tus_seconds=$(( $(date +%s) - tus_started ))
  peer_versions=$(cd infra/bench-tus && node -p 'const v = (p) => JSON.parse(require("fs").readFileSync("node_modules/" + p + "/package.json")).version;
    `@tus/server ${v("@tus/server")} + @tus/s3-store ${v("@tus/s3-store")} (@aws-sdk/client-s3 ${v("@aws-sdk/client-s3")})`')
  if command -v go >/dev/null; then
    tusd="tusd, the Go reference server, is not in this bench (it does not build tusd): no number for it."
  else
    tusd="tusd, the Go reference server, is not measured: this machine has no Go toolchain (\`go\` is not
installed), so there is no number for it here."
  fi
  write_section "tus against @tus/server" "\`./infra/bench.sh tus\` on $(date -I) ($machine; moto $moto_version; Node $(node --version); the uploads took $tus_seconds s).
$TUS_MIB MiB (pseudo-random) uploaded by tus 1.0 (SPEC §10), a creation \`POST\` without data, then
sequential \`PATCH\`es of one chunk size, to *ours*, the local server (release \`local-api --store
aws\`: DynamoDB and S3 on moto), and to *theirs*, $peer_versions on Node,
configured as @tus/s3-store's README shows (\`infra/bench-tus/peer-server.mjs\`: S3 on the same moto, path-style,
its own bucket; \`partSize\` the chunk size when that is at least S3's 5 MiB minimum, else the store's
default 8 MiB, so that at 4 MiB chunks both servers stage every other chunk and send 8 MiB parts).
One client for both (\`infra/bench-tus/bench.mjs\`, Node's \`fetch\`), timed end to end, from the
\`POST\` to the last \`204\`; no data in the creation request for either (plain creation, then PATCHes;
creation-with-upload is not measured: @tus/server 2.4 was reported to crash on it on Node 20 with
@tus/file-store, not re-checked here). $TUS_ROUNDS interleaved rounds
(alternating which server goes first) after an untimed warm-up upload of 32 MiB to each server;
median MiB/s, and the median of the rounds' ratios (goal: ours ≥ 1.5× theirs). Objects are deleted
between uploads (untimed), so moto holds one upload at a time. Calls: one more upload per server
and chunk size, untimed, through a counting proxy in front of moto (\`infra/bench-tus/count-proxy.mjs\`:
S3 by method and query, DynamoDB by \`X-Amz-Target\`, in parentheses the answers ≥ 300, e.g. the
404 of a missing object); after it the stored file is read back and compared byte for byte. Ours
keeps its upload state in DynamoDB, theirs in S3 (the \`.info\` object, and a \`.part\` object for a
remainder below the part size). Per PATCH means over all PATCHes, the last one (which completes
the upload) included. $tusd" "$out"
  echo "BENCHMARKS.md: tus against @tus/server updated"
fi

if [ "$what" = integrity-cost ] || [ "$what" = all ]; then
  before=${INTEGRITY_BEFORE:-40fe024931a9f5b839c64576e0902880ffab179e}
  rounds=${INTEGRITY_ROUNDS:-5}
  # Both builds in one target directory: only the workspace crates differ, dependencies are
  # built once.
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$(pwd)/target}
  before_dir=${INTEGRITY_BEFORE_DIR:-}
  made_worktree=""
  if [ -z "$before_dir" ]; then
    before_dir=target/integrity-before
    git worktree remove --force "$before_dir" 2>/dev/null || true
    git worktree add --detach "$before_dir" "$before" >/dev/null
    made_worktree=1
  fi
  before_commit=$(git -C "$before_dir" rev-parse HEAD)
  if [ "$before_commit" != "$(git rev-parse "$before^{commit}")" ]; then
    echo "$before_dir is at $before_commit, not at $before" >&2
    exit 1
  fi
  after_commit=$(git rev-parse HEAD)
  [ -z "$(git status --porcelain --untracked-files=no)" ] || after_commit="$after_commit (with uncommitted changes)"
  build_log=$(pwd)/target/bench-integrity-build.log
  # bench_exe <checkout>: builds that checkout's upload bench; prints the executable's path.
  bench_exe() {
    (cd "$1" && cargo bench -p e2e-tests --bench upload --no-run --message-format=json 2>>"$build_log") |
      python3 -c 'import json, sys
exes = [m["executable"] for m in map(json.loads, sys.stdin)
        if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "upload"]
print(exes[-1])'
  }
  : > "$build_log"
  if ! before_exe=$(bench_exe "$before_dir") || ! after_exe=$(bench_exe .); then
    cat "$build_log" >&2
    [ -z "$made_worktree" ] || git worktree remove --force "$before_dir"
    exit 1
  fi
  # The executables live in the target directory: the old checkout is no longer needed.
  [ -z "$made_worktree" ] || git worktree remove --force "$before_dir"
  results=target/bench-integrity.txt
  : > "$results"
  for round in $(seq 1 "$rounds"); do
    for version in before after; do
      exe=$before_exe
      [ "$version" = before ] || exe=$after_exe
      fresh_moto >/dev/null
      for phase in disk embedded-16 sdk-multipart s3-16; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        out=$("$exe" --phase "$phase")
        echo "$round $version $phase $out $load" >> "$results"
        echo "round $round/$rounds, $version, $phase: $out (s, peak RSS MiB; load $load)" >&2
      done
    done
  done
  table=$(python3 - "$results" <<'PY'
import statistics, sys
TOTAL_MIB = 256
runs = {}
loads = []
for line in open(sys.argv[1]):
    rnd, version, phase, seconds, _rss, load = line.split()
    runs.setdefault((int(rnd), version), {})[phase] = float(seconds)
    loads.append(float(load))
rounds = sorted({r for r, _ in runs})
def mibs(s): return TOTAL_MIB / s
def ratio(block, phase, base): return block[base] / block[phase]
print("| round | version | disk MiB/s | /upload → embedded, MiB/s | ratio to disk | SDK multipart MiB/s | /upload → moto, MiB/s | ratio to SDK |")
print("|---:|---|---:|---:|---:|---:|---:|---:|")
for r in rounds:
    for v in ("before", "after"):
        b = runs[(r, v)]
        print(f"| {r} | {v} | {mibs(b['disk']):.0f} | {mibs(b['embedded-16']):.0f} | {ratio(b, 'embedded-16', 'disk'):.2f}× "
              f"| {mibs(b['sdk-multipart']):.0f} | {mibs(b['s3-16']):.0f} | {ratio(b, 's3-16', 'sdk-multipart'):.2f}× |")
print()
def spread(xs, unit):
    f = (lambda x: f"{x:.0f}") if unit is None else (lambda x: f"{x:.2f}{unit}")
    return f"{f(statistics.median(xs))} ({f(min(xs))}–{f(max(xs))})"
print("| 16 MiB chunks | before: median (min–max) | after: median (min–max) | after ÷ before, medians | after ÷ before within each round: median (min–max) |")
print("|---|---:|---:|---:|---:|")
for label, unit, value in (
    ("embedded store, ratio to disk", "×", lambda b: ratio(b, "embedded-16", "disk")),
    ("embedded store, MiB/s", None, lambda b: mibs(b["embedded-16"])),
    ("(disk baseline, MiB/s)", None, lambda b: mibs(b["disk"])),
    ("DynamoDB + S3 on moto, ratio to SDK multipart", "×", lambda b: ratio(b, "s3-16", "sdk-multipart")),
    ("DynamoDB + S3 on moto, MiB/s", None, lambda b: mibs(b["s3-16"])),
    ("(SDK multipart baseline, MiB/s)", None, lambda b: mibs(b["sdk-multipart"])),
):
    bef = [value(runs[(r, "before")]) for r in rounds]
    aft = [value(runs[(r, "after")]) for r in rounds]
    paired = [a / b for a, b in zip(aft, bef)]
    print(f"| {label} | {spread(bef, unit)} | {spread(aft, unit)} | {statistics.median(aft) / statistics.median(bef):.2f} | {spread(paired, '')} |")
print()
print(f"1-minute load average at the start of each phase: {min(loads):.2f}–{max(loads):.2f} "
      f"(2 cores shared with other work).")
PY
)
  write_section "Integrity cost (before/after)" "\`./infra/bench.sh integrity-cost\` on $(date -I) ($machine; moto $moto_version).
256 MiB through the \`/upload\` handler in 16 MiB chunks, *before* the integrity work (commit
$before_commit: no write lease, before b26f6d5) and *after* it
($after_commit), each by that commit's own upload bench (\`tests/benches/upload.rs\`, the same file in both), built in
one target directory, phase by phase (\`--phase\`, each phase its own process): disk baseline,
embedded store, SDK multipart baseline, DynamoDB + S3 on moto. $rounds rounds, each running
*before* then *after*, moto restarted before each. Each ratio is against its baseline of the same
block, so a busier machine moves both; *after ÷ before* below 1.00 is the integrity work's cost
(the project's goal: at most 10%, i.e. ≥ 0.90), given both as ratios to the baselines and in
absolute MiB/s; the rows in parentheses are the baselines themselves, to show how much they moved." "$table"
  echo "BENCHMARKS.md: integrity cost updated"
fi

if [ "$what" = http ] || [ "$what" = all ]; then
  cargo build --release --quiet -p local-api -p hello-http
  target_dir=${CARGO_TARGET_DIR:-target}
  # $HTTP_LOCAL_API: another build of the local server to measure (an older commit's, for a
  # before/after comparison); the baseline is always this checkout's.
  local_api=${HTTP_LOCAL_API:-$target_dir/release/local-api}
  if ! command -v wrk >/dev/null; then
    # Debian's wrk (TOOLING.md); the apt lists are fetched only when the package is unknown.
    apt-get install -y -qq wrk >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; }
  fi
  rounds=${HTTP_ROUNDS:-5} seconds=${HTTP_SECONDS:-10} connections=${HTTP_CONNECTIONS:-32}
  work=$(mktemp -d "$(pwd)/target/bench-http.XXXXXX")
  ours_pid='' hello_pid=''
  # stop_server <pid>: SIGTERM (the local server stops gracefully), then waits for it.
  stop_server() {
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  }
  http_cleanup() {
    stop_server "$ours_pid"
    stop_server "$hello_pid"
    rm -rf "$work"
    stop_server "${moto_pid:-}"
  }
  trap http_cleanup EXIT
  free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  wait_for() {
    for _ in $(seq 1 100); do
      curl -s -o /dev/null "$1" && return 0
      sleep 0.1
    done
    echo "bench http: nothing answers at $1" >&2
    return 1
  }
  key="bench$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  auth="Authorization: Basic $(printf '%s:' "$key" | base64 -w0)"
  ours_port=$(free_port)
  hello_port=$(free_port)
  ours="http://127.0.0.1:$ours_port" hello="http://127.0.0.1:$hello_port"
  # The upload: a 1 MiB file (pseudo-random) in a multipart body, as `curl -F file=@…` sends it.
  head -c 1048576 /dev/urandom > "$work/file.bin"
  python3 - "$work/file.bin" "$work/upload.body" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
boundary = b"------------------------benchhttpboundary"
open(sys.argv[2], "wb").write(b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; "
    b"filename=\"file.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data
    + b"\r\n--" + boundary + b"--\r\n")
PY
  upload_type="multipart/form-data; boundary=------------------------benchhttpboundary"
  printf '{"ttl":3600}' > "$work/create.body"
  # post_script <body file> <content type>: a wrk script that POSTs that body.
  post_script() {
    cat <<LUA
wrk.method = "POST"
local f = assert(io.open("$1", "rb"))
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "$2"
LUA
  }
  post_script "$work/create.body" application/json > "$work/create.lua"
  post_script "$work/upload.body" "$upload_type" > "$work/upload.lua"
  # start_ours: the release local server on a fresh data directory (so that what the upload
  # and creation cases wrote never weighs on the next round), one token for GET and /upload,
  # and 99 more (100 active tokens: a full first page of 25).
  start_ours() {
    rm -rf "$work/data"
    "$local_api" --data-dir "$work/data" --addr "127.0.0.1:$ours_port" \
      --api-key "$key" >> "$work/local-api.log" 2>&1 &
    ours_pid=$!
    wait_for "$ours/openapi.yaml"
    token=$(curl -sf -H "$auth" -H 'Content-Type: application/json' -d '{"ttl":0}' "$ours/upload-tokens" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
    for _ in $(seq 1 99); do
      curl -sf -o /dev/null -H "$auth" -H 'Content-Type: application/json' -d '{"ttl":0}' "$ours/upload-tokens"
    done
  }
  # The four cases: name, path, wrk script (- for a GET).
  cases=("get-token" "list" "create" "upload")
  case_path() {
    case "$1" in
      get-token) echo "/upload-tokens/$token" ;;
      list) echo "/upload-tokens" ;;
      create) echo "/upload-tokens" ;;
      upload) echo "/upload?token=$token" ;;
    esac
  }
  case_script() {
    case "$1" in
      create) echo "$work/create.lua" ;;
      upload) echo "$work/upload.lua" ;;
      *) echo "" ;;
    esac
  }
  # run_wrk <base url> <case> <seconds>: prints "req/s non2xx errors".
  run_wrk() {
    local script args=()
    script=$(case_script "$2")
    [ -z "$script" ] || args=(-s "$script")
    wrk -t2 -c"$connections" -d"${3}s" --latency -H "$auth" "${args[@]}" "$1$(case_path "$2")" |
      python3 -c 'import re, sys
out = sys.stdin.read()
rate = re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
print(rate, non2xx.group(1) if non2xx else 0, sum(map(int, errors.groups())) if errors else 0, p50)'
  }
  start_ours
  # What ours answers, saved for the baseline to answer with the same sizes.
  curl -sf -H "$auth" "$ours/upload-tokens/$token" > "$work/get-token.json"
  curl -sf -H "$auth" "$ours/upload-tokens" > "$work/list.json"
  curl -sf -H "$auth" -H 'Content-Type: application/json' -d @"$work/create.body" "$ours/upload-tokens" > "$work/create.json"
  curl -sf -H "Content-Type: $upload_type" --data-binary @"$work/upload.body" "$ours/upload?token=$token" > "$work/upload.json"
  "$target_dir/release/hello-http" "127.0.0.1:$hello_port" "$work/get-token.json" "$work/list.json" \
    "$work/create.json" "$work/upload.json" &
  hello_pid=$!
  wait_for "$hello/upload-tokens"
  results=target/bench-http.txt
  : > "$results"
  for round in $(seq 1 "$rounds"); do
    [ "$round" = 1 ] || start_ours
    for name in "${cases[@]}"; do
      # Alternate which server goes first; an untimed 1 s run warms each one up.
      order=(ours hello)
      [ $((round % 2)) = 1 ] || order=(hello ours)
      for server in "${order[@]}"; do
        base=$ours
        [ "$server" = ours ] || base=$hello
        run_wrk "$base" "$name" 1 >/dev/null
        out=$(run_wrk "$base" "$name" "$seconds")
        load=$(cut -d' ' -f1 /proc/loadavg)
        echo "$round $name $server $out $load" >> "$results"
        echo "round $round/$rounds, $name, $server: $out (req/s, non-2xx, socket errors, p50; load $load)" >&2
      done
    done
    stop_server "$ours_pid"
    ours_pid=''
  done
  sizes="GET token $(wc -c < "$work/get-token.json") B, list page $(wc -c < "$work/list.json") B, creation $(wc -c < "$work/create.json") B, upload $(wc -c < "$work/upload.json") B"
  table=$(python3 - "$results" <<'PY'
import statistics, sys
rows = {}
loads = []
for line in open(sys.argv[1]):
    rnd, name, server, rate, non2xx, errors, p50, load = line.split()
    rows.setdefault(name, {}).setdefault(server, []).append((int(rnd), float(rate), int(non2xx), int(errors), p50))
    loads.append(float(load))
labels = {
    "get-token": "`GET /upload-tokens/{token}`",
    "list": "`GET /upload-tokens` (first page, 25 of 100)",
    "create": "`POST /upload-tokens`",
    "upload": "`POST /upload`, 1 MiB file",
}
print("| request | ours, req/s (median) | hello-world, req/s (median) | ours ÷ hello-world, medians | within each round: median (min–max) | ours p50 latency, median | non-2xx (ours) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name in ("get-token", "list", "create", "upload"):
    ours = sorted(rows[name]["ours"])
    base = sorted(rows[name]["hello"])
    o = [r for _, r, *_ in ours]
    b = [r for _, r, *_ in base]
    paired = [x / y for x, y in zip(o, b)]
    bad = sum(n + e for _, _, n, e, _ in ours)
    p50 = statistics.median_low([p for *_, p in ours])
    print(f"| {labels[name]} | {statistics.median(o):,.0f} | {statistics.median(b):,.0f} | "
          f"{statistics.median(o) / statistics.median(b):.2f}× | {statistics.median(paired):.2f}× "
          f"({min(paired):.2f}–{max(paired):.2f}) | {p50} | {bad} |")
    if any(n + e for _, _, n, e, _ in base):
        sys.exit(f"the baseline answered errors on {name}")
print()
print(f"1-minute load average after each run: {min(loads):.2f}–{max(loads):.2f} "
      f"(2 cores shared by the server, wrk and other work).")
PY
)
  write_section "Request rate" "\`./infra/bench.sh http\` on $(date -I) ($machine; $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)).
Requests per second over HTTP/1.1 keep-alive, \`wrk -t2 -c$connections -d${seconds}s\`, against *ours*, the
release local server (\`local-api\`, embedded SQLite store, default logging to a file), and
*hello-world*, axum's hello world (\`infra/hello-http\`, same release profile) answering the same
paths with the bodies ours answered, saved at the start ($sizes); the same
requests to both (\`Authorization: Basic\` with the API key on every one, the same 1 MiB multipart
body). $rounds rounds, each running every case on both servers (alternating which goes first, an
untimed 1 s warm-up before each run); ours starts each round on a fresh data directory holding
100 active tokens. Medians over rounds, and the median of each round's ratio." "$table"
  echo "BENCHMARKS.md: request rate updated"
fi
