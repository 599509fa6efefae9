#!/usr/bin/env bash
# Run assetflow as a service on this machine: a Prefect server, SeaweedFS S3 and a
# process worker on the work pool, with the deployments applied to it.
#   deployments/stack.sh up     start what is not running; print where everything is
#   deployments/stack.sh down   stop only what `up` started (pid files in ./.stack/)
# Ports (override with the variables): PREFECT_PORT=4200, S3_PORT=8333.
# When PostgreSQL answers on 127.0.0.1:5432, the Prefect server keeps its database
# there (assetflow_prefect) and so does the asset store (assetflow); otherwise
# both are SQLite files (under ./.stack and ./data). The settings the CLI, the
# worker and its flow runs need are written to ./.env (read from the directory
# they run in: this checkout's root); other lines of an existing .env are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

STACK=.stack
PREFECT_PORT=${PREFECT_PORT:-4200}
S3_PORT=${S3_PORT:-8333}
PG_HOST=127.0.0.1
PG_PORT=5432
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_HOME="$PWD/$STACK/prefect"
export PREFECT_API_URL="http://127.0.0.1:$PREFECT_PORT/api"

running() { [ -f "$STACK/$1.pid" ] && kill -0 "$(cat "$STACK/$1.pid")" 2>/dev/null; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Start "$@" in its own process group, logging to .stack/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >"$STACK/$name.log" 2>&1 < /dev/null &
  echo $! >"$STACK/$name.pid"
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq "$seconds"); do
    "$@" && return 0
    sleep 1
  done
  echo "$what did not come up in ${seconds} s; see $STACK/*.log" >&2
  exit 1
}

refuse_busy_port() {  # refuse_busy_port PORT WHAT VARIABLE
  if port_busy "$1"; then
    echo "port $1 ($2) is in use by another program: set $3 to a free port" >&2
    exit 1
  fi
}

postgres_answers() { port_busy "$PG_PORT" && command -v psql >/dev/null; }

ensure_database() {  # ensure_database NAME: create it on the local PostgreSQL unless it exists
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1 \
    || psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $1"
}

prefect_database_url() {
  if postgres_answers; then
    ensure_database assetflow_prefect
    echo "postgresql+asyncpg://postgres@$PG_HOST:$PG_PORT/assetflow_prefect"
  else
    echo "sqlite+aiosqlite:///$PWD/$STACK/prefect/prefect.db"
  fi
}

asset_database_url() {
  if postgres_answers; then
    ensure_database assetflow
    echo "postgresql+psycopg://postgres@$PG_HOST:$PG_PORT/assetflow"
  else
    echo "sqlite:///$PWD/data/assetflow.db"
  fi
}

# Write the stack's settings into ./.env, keeping the lines it does not set.
write_env() {
  local keys="PREFECT_API_URL|ASSETFLOW_DATABASE_URL|ASSETFLOW_STORAGE_URL|ASSETFLOW_S3_[A-Z_]+"
  local kept=""
  [ -f .env ] && kept=$(grep -Ev "^(# written by make stack|($keys)=)" .env || true)
  {
    [ -n "$kept" ] && printf '%s\n' "$kept"
    echo "# written by make stack (deployments/stack.sh): the CLI and the worker read these"
    echo "PREFECT_API_URL=$PREFECT_API_URL"
    echo "ASSETFLOW_DATABASE_URL=$ASSET_DB"
    cat "$STACK/s3.env"
  } >.env.new
  mv .env.new .env
}

up() {
  mkdir -p "$STACK/prefect" "$STACK/s3" "$STACK/work"
  if ! running prefect; then
    refuse_busy_port "$PREFECT_PORT" "Prefect server" PREFECT_PORT
    prefect_database_url >"$STACK/prefect.db-url"
    PREFECT_API_URL="" PREFECT_API_DATABASE_CONNECTION_URL="$(cat "$STACK/prefect.db-url")" \
      start prefect uv run --frozen prefect server start --host 127.0.0.1 --port "$PREFECT_PORT"
  fi
  if ! running s3; then
    refuse_busy_port "$S3_PORT" "SeaweedFS S3" S3_PORT
    [ -f "$STACK/s3.env" ] || {
      key=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
      printf '{"identities":[{"name":"assetflow","credentials":[{"accessKey":"assetflow","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' \
        "$key" >"$STACK/s3/s3.json"
      printf 'ASSETFLOW_STORAGE_URL=s3://assetflow\nASSETFLOW_S3_ENDPOINT=127.0.0.1:%s\nASSETFLOW_S3_ACCESS_KEY=assetflow\nASSETFLOW_S3_SECRET_KEY=%s\nASSETFLOW_S3_SECURE=false\n' \
        "$S3_PORT" "$key" >"$STACK/s3.env"
    }
    # weed picks its other ports from its defaults (9333, 8080, 8888 and their gRPC ports).
    start s3 .venv/bin/weed -logdir="$PWD/$STACK/s3" server -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -dir="$PWD/$STACK/s3" -master.volumeSizeLimitMB=1024 -master.telemetry=false \
      -s3 -s3.port="$S3_PORT" -s3.config="$PWD/$STACK/s3/s3.json"
  fi
  ASSET_DB=$(asset_database_url)
  write_env
  export ASSETFLOW_DATABASE_URL="$ASSET_DB"
  set -a; . "$STACK/s3.env"; set +a
  wait_for "Prefect server" 180 curl -sf "$PREFECT_API_URL/health" -o /dev/null
  wait_for "SeaweedFS S3" 60 port_busy "$S3_PORT"
  # The bucket: weed creates it on the first PUT only if told to; make it once here.
  uv run --frozen python - <<'EOF'
from minio import Minio
from core.settings import Settings
s = Settings()
client = Minio(s.s3_endpoint, access_key=s.s3_access_key.get_secret_value(),
               secret_key=s.s3_secret_key.get_secret_value(), secure=False)
bucket = s.storage_url.removeprefix("s3://").split("/")[0]
client.bucket_exists(bucket) or client.make_bucket(bucket)
EOF
  uv run --frozen assetflow deploy --no-hint
  if ! running worker; then
    start worker uv run --frozen prefect worker start --pool "${ASSETFLOW_WORK_POOL:-assetflow}" --type process
  fi
  echo
  echo "Prefect UI:        http://127.0.0.1:$PREFECT_PORT"
  echo "Prefect API:       $PREFECT_API_URL"
  echo "Prefect database:  $(cat "$STACK/prefect.db-url")"
  echo "Asset store:       $ASSET_DB"
  echo "Object store:      $ASSETFLOW_STORAGE_URL on S3 at $ASSETFLOW_S3_ENDPOINT"
  echo "Settings:          $PWD/.env (the CLI reads it when run from $PWD)"
  echo "Submit:            uv run assetflow submit URL --wait"
  echo "Worker log:        $STACK/worker.log"
  echo "Stop:              make stack-down"
}

down() {
  for name in worker s3 prefect; do
    if running "$name"; then
      local pid
      pid=$(cat "$STACK/$name.pid")
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -KILL -- "-$pid" 2>/dev/null || true  # weed ignores SIGTERM for a while
      echo "stopped $name"
    fi
    rm -f "$STACK/$name.pid"
  done
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
