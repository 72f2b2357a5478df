# Sourced by test.sh and bench.sh: starts a moto server (DynamoDB + S3 APIs) on a free
# 127.0.0.1 port, points the AWS SDK at it with dummy credentials, and stops it on exit.
# Needs .venv (created by test.sh).

start_moto() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  mkdir -p target
  # moto with DynamoDB requests serialised, as DynamoDB serialises conflicting writes
  # (infra/moto_server.py says why).
  .venv/bin/python infra/moto_server.py -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
  moto_pid=$!
  trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
      break
    fi
    if ! kill -0 "$moto_pid" 2>/dev/null; then
      cat target/moto.log >&2
      echo "moto server exited" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "moto on port $port (log: target/moto.log)"
  # Only these credentials and this endpoint: nothing here reaches a real AWS account.
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  export UPLOAD_TOKENS_TEST_MOTO_URL="$AWS_ENDPOINT_URL"
}
