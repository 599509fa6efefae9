"""``make demo`` as a newcomer runs it: ``python -m deployments.demo`` in an empty directory.

Nothing configured: no ``ASSETFLOW_*`` or ``PREFECT_*`` variable (the demo
sets its own), so the store is ``./data``, the graph ``./data/assetflow.db``
and Prefect its temporary local server. Only ``PREFECT_HOME`` points into the
test's directory, so the run does not share the machine's ``~/.prefect``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

from sqlmodel import Session, select

from models.db import make_engine
from models.queries import load_asset_graph
from models.tables import AssetStatus, AudioFingerprint, File, ImageHash

CHECKOUT = Path(__file__).resolve().parents[2]
# What each generated file must become: its kind and the formats of its recipe.
EXPECTED = {
    "photo.jpg": ("image", {"ORIGINAL", "SIZE_160", "SIZE_320", "SIZE_640", "SIZE_1280"}),
    "clip.mp4": (
        "video",
        {"ORIGINAL", "PROXY", "POSTER", "KEYFRAMES", "AUDIO_FRAGMENT", "WAVEFORM"},
    ),
    "tones.wav": ("audio", {"ORIGINAL", "AUDIO_FRAGMENT", "WAVEFORM"}),
}
# A Prefect server start, three ingests (one a transcode) on a loaded 2-core machine.
DEMO_TIMEOUT_S = 600


def _reported(stdout: str) -> dict[str, uuid.UUID]:
    """Read the asset the demo reported for each file: ``== NAME: completed``, ``asset ID``."""
    found = re.findall(r"^== (\S+): completed \nasset ([0-9a-f-]{36}) ", stdout, re.M)
    return {name: uuid.UUID(asset_id) for name, asset_id in found}


def test_the_demo_ingests_its_media_with_their_derivatives_and_warns_of_nothing(
    tmp_path: Path,
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ASSETFLOW_", "PREFECT_"))
    }
    env |= {"PYTHONPATH": str(CHECKOUT), "PREFECT_HOME": str(tmp_path / "prefect-home")}

    demo = subprocess.run(
        [sys.executable, "-m", "deployments.demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
    )

    assert demo.returncode == 0, demo.stderr[-4000:]
    # Prefect's log lines, Python's warnings, ffmpeg's: nothing a newcomer must wonder about.
    warnings = [
        line
        for line in (demo.stdout + demo.stderr).splitlines()
        if re.search(r"warn|error|traceback", line, re.I)
    ]
    assert warnings == []
    reported = _reported(demo.stdout)
    assert set(reported) == set(EXPECTED), demo.stdout
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'assetflow.db'}")
    objects = tmp_path / "data" / "objects"
    recorded: dict[tuple[str, str], list[File]] = {}
    with Session(engine) as session:
        for name, asset_id in reported.items():
            graph = load_asset_graph(session=session, asset_id=asset_id)
            assert graph is not None, name
            kind, formats = EXPECTED[name]
            assert (graph.asset.status, graph.asset.kind) == (AssetStatus.READY, kind)
            assert (graph.project.name, graph.asset.identifier) == ("demo", f"demo/{name}")
            assert {view.format.name for view in graph.formats} == formats
            for view in graph.formats:
                for file_set, files in view.file_sets:
                    assert (file_set.backend, Path(file_set.bucket)) == ("file", objects)
                    assert files, (name, view.format.name)
                    recorded[(name, view.format.name)] = files
                    for file in files:
                        stored = (objects / file.key).read_bytes()
                        assert hashlib.sha256(stored).hexdigest() == file.sha256
                        assert len(stored) == file.size
        photo, clip, tones = (reported[name] for name in EXPECTED)
        # Shot with the phone turned (EXIF 6): the sizes are upright.
        [size] = recorded[("photo.jpg", "SIZE_1280")]
        assert (size.width, size.height) == (960, 1280)
        assert session.get(ImageHash, photo) is not None
        fingerprinted = session.exec(select(AudioFingerprint.asset_id)).all()
        assert {clip, tones} <= set(fingerprinted)
    engine.dispose()
