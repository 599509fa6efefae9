"""Run every benchmark in bench/ one after another (``make bench``).

Each runs in its own process so that its peak RSS is its own. Pass names to
run only some: ``uv run python -m bench.run_all fetch images``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).parent


def main(names: list[str]) -> int:
    """Run the chosen (default: all) bench_*.py scripts; return the worst exit code."""
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    worst = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        worst = max(worst, subprocess.run([sys.executable, str(script)], check=False).returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
