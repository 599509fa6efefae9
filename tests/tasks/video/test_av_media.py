"""The shared media makers give what the media tests rely on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.fixtures.av_media import make_audio


def raw_fingerprint(path: Path) -> list[int]:
    fpcalc = shutil.which("fpcalc")
    assert fpcalc, "fpcalc is not installed: apt-get install libchromaprint-tools"
    done = subprocess.run([fpcalc, "-raw", str(path)], capture_output=True, text=True, check=False)
    line = next(x for x in done.stdout.splitlines() if x.startswith("FINGERPRINT="))
    values = line.removeprefix("FINGERPRINT=")
    return [int(v) for v in values.split(",")] if values else []


def test_structured_audio_has_a_fingerprint_that_differs_by_variant(tmp_path: Path) -> None:
    first = raw_fingerprint(make_audio(tmp_path / "a.wav", seconds=4))
    second = raw_fingerprint(make_audio(tmp_path / "b.wav", seconds=4, variant=3))

    assert len(first) > 10 and len(set(first)) > 5
    assert first != second[: len(first)]
