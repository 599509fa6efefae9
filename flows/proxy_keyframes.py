"""The ``proxy-keyframes`` flow: a keyframe map and poster from a proxy the user uploaded.

An asset built by hand brings its own proxy (POST /assets/{id}/proxies, or a
file in place in a PROXY file set). This flow reads that proxy from where it
lies, checks its bytes against its recorded sha256, probes
it and runs the pipeline's own video step without the proxy output
(``keyframes_step``): the same decode, the same sprite sheets, WebVTT and
poster choice, recorded the same way. The asset is then complete: ready,
processed, a video.
"""

from __future__ import annotations

import dataclasses
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from prefect import flow
from prefect.states import State
from sqlmodel import Session

from core.errors import IngestError
from core.forms import titled
from core.kinds import AssetKind
from core.settings import Settings
from flows.derive_video import keyframes_step, probe_task
from flows.recipes import recipe_key
from flows.reprocess import load_original_task
from flows.run_states import end
from flows.runtime import DeriveContext, StepMode, step
from models import graph
from models.db import engine_for, transact
from models.tables import Asset, AssetStatus, File, FileStatus
from tasks.in_place import locate, read_in_place
from tasks.video import VideoOptions


@step("load-in-place")
def load_in_place_task(
    storage: str, path: str, sha256: str, *, dest: Path, settings: Settings
) -> Path:
    """Read a file lying in place on a configured storage into a scratch file, checked."""
    place = locate(settings, storage=storage, path=path)
    return read_in_place(place, dest, sha256=sha256)


@flow(name="proxy-keyframes")
def proxy_keyframes(
    asset_id: Annotated[uuid.UUID, titled("Asset id")],
    proxy_id: Annotated[uuid.UUID, titled("Proxy file id")],
    options: Annotated[VideoOptions, titled("Video options")] = VideoOptions(),  # noqa: B008
) -> State[Any]:
    """Make the keyframe map and poster of an asset from its closed proxy; mark it ready.

    Args:
        asset_id: The asset the proxy belongs to.
        proxy_id: The proxy's file id (as POST /assets/{id}/proxies answered).
        options: Sprite sheet and poster options (the pipeline's video options).
    """
    settings = Settings()
    engine = engine_for(settings)
    mode = StepMode.TASKS

    def complete(session: Session) -> None:
        asset = session.get_one(Asset, asset_id, with_for_update=True)
        graph.update_asset(
            session=session,
            asset=asset,
            kind=AssetKind.VIDEO,
            status=AssetStatus.READY,
            processed=True,
            error=None,
        )

    try:
        proxy = transact(
            engine, lambda session: session.get(File, proxy_id), describe="reading the proxy"
        )
        if proxy is None or proxy.asset_id != asset_id or proxy.status != FileStatus.CLOSED:
            return end(None, f"proxy {proxy_id} of asset {asset_id} is not a closed file")
        assert proxy.sha256 is not None  # a closed file's bytes are verified
        with tempfile.TemporaryDirectory(prefix="assetflow-", dir=settings.temp_dir) as work:
            work_dir = Path(work)
            dest = work_dir / "proxy"
            path = (
                load_in_place_task.run(
                    mode, proxy.storage, proxy.key, proxy.sha256, dest=dest, settings=settings
                )
                if proxy.storage
                else load_original_task.run(
                    mode, proxy.key, proxy.sha256, dest=dest, settings=settings
                )
            )
            context = DeriveContext(
                settings=settings,
                engine=engine,
                mode=mode,
                asset_id=asset_id,
                kind=AssetKind.VIDEO,
                original=path,
                original_sha256=proxy.sha256,
                work_dir=work_dir,
            )
            context = dataclasses.replace(context, probe=probe_task.run(mode, path))
            keyframes_step(context, options, recipe_key("keyframes", options, proxy.sha256))
        transact(engine, complete, describe="marking the asset ready")
    except IngestError as exc:
        return end(None, str(exc))
    finally:
        engine.dispose()
    return end(None, None)
