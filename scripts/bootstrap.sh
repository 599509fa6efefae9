#!/usr/bin/env bash
# Install what assetflow needs on a fresh Debian machine, then the locked
# Python environment. Idempotent: what is present is left alone.
#   scripts/bootstrap.sh          media tools + Python environment
#   scripts/bootstrap.sh --tests  also chromium (browser tests) and a PostgreSQL server
#                                 package when none answers
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=false
[ "${1:-}" = "--tests" ] && want_tests=true

missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v fpcalc >/dev/null 2>&1 || missing+=(libchromaprint-tools)
# python-magic loads libmagic at import; the compiled magic database comes with it.
ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1 ' || missing+=(libmagic1)
# The browser tests drive Debian's chromium (Playwright's own download is not reachable).
$want_tests && ! command -v chromium >/dev/null 2>&1 && missing+=(chromium)
if $want_tests && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null \
    && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "assetflow needs the Debian packages ${missing[*]}: install them with 'sudo apt-get install -y ${missing[*]}' and run this again." >&2
    exit 1
  fi
  echo "installing ${missing[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "installing uv ..."
  python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv
  export PATH="$HOME/.local/bin:$PATH"
fi
# With the bytecode compiled now, a command does not compile SQLAlchemy, pydantic and
# the rest again on every start where Python may not write __pycache__
# (PYTHONDONTWRITEBYTECODE=1, a read-only install): `assetflow ls` costs about half
# the CPU (bench/bench_cli.py). Not `compile-bytecode` in pyproject.toml: uv would
# then check all 10,000 files again on every `uv run`, 2 s each time.
uv sync --frozen --quiet --compile-bytecode
