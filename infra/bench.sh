#!/usr/bin/env bash
# Upload benchmark: 256 MiB through /upload in 4 and 16 MiB chunks, to the embedded store and to
# DynamoDB + S3 on moto, against plain disk writes and a plain SDK multipart upload measured in
# the same run. Writes the table into BENCHMARKS.md. Run ./infra/test.sh once first (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=infra/moto.sh
. infra/moto.sh
start_moto
table=$(cargo bench -p e2e-tests --bench upload 2>target/bench-upload.log)
cat target/bench-upload.log >&2
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"
python3 - "$table" "$machine" <<'PY'
import re, sys, datetime
table, machine = sys.argv[1], sys.argv[2]
path = "BENCHMARKS.md"
text = open(path).read() if __import__("os").path.exists(path) else "# Benchmarks\n"
section = (
    "## Upload throughput\n\n"
    f"`./infra/bench.sh` on {datetime.date.today()} ({machine}; moto {open('infra/requirements-test.txt').read().split('moto[server]==')[1].split()[0]}).\n"
    "256 MiB through the `/upload` handler in-process (multipart body per chunk, the real\n"
    "stores), each against its baseline from the same run: (a') the same bytes written straight\n"
    "to disk, (b') a plain SDK multipart upload to the same moto. A ratio of 1.00× means as fast\n"
    "as the baseline. Peak RSS is each phase's own process (the 256 MiB source buffer included).\n\n"
    + table.strip() + "\n"
)
pattern = re.compile(r"## Upload throughput\n.*?(?=\n## |\Z)", re.S)
text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(path, "w").write(text)
PY
echo "BENCHMARKS.md updated"
