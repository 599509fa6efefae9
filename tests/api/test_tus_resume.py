"""A 120 MB tus upload to SeaweedFS whose connection drops halfway, resumed by a new client.

The laptop's network goes away in the middle of the one PATCH tuspy sends
(a TCP proxy closes both sides after 70 MB); a new tuspy client, knowing only
the upload's URL, asks the server for the offset and sends the rest. The
asset ends ready with the file's sha256.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import pytest
from sqlmodel import select
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError, TusUploadFailed

from models.db import make_engine, new_session
from models.tables import UploadSession
from tests.api.conftest import ApiServer
from tests.api.test_tus import TUS, _wait_for_task
from tests.fixtures.cutting_proxy import CuttingProxy

# Only on S3 (SeaweedFS), PostgreSQL beside it.
pytestmark = pytest.mark.parametrize("api_server", ["postgres"], indirect=True, scope="module")

SIZE = 120_000_000
CUT_AFTER = 70_000_000
WRITER_TIMEOUT_S = 60.0


def _big_file(path: Path) -> str:
    """Write SIZE random bytes in 1 MB blocks; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(SIZE // 1_000_000):
            block = os.urandom(1_000_000)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _wait_until_no_writer(api_server: ApiServer, upload_id: uuid.UUID) -> None:
    """Return once the server has dealt with the broken request (the session's writer let go)."""
    engine = make_engine(api_server.settings.database_url)
    deadline = time.monotonic() + WRITER_TIMEOUT_S
    try:
        while True:
            with new_session(engine) as session:
                row = session.exec(select(UploadSession).where(UploadSession.id == upload_id)).one()
            if row.writer is None or time.monotonic() > deadline:
                return
            time.sleep(0.05)  # the server's side of a dropped connection: nothing to await here
    finally:
        engine.dispose()


def test_a_cut_upload_resumes_from_the_servers_offset_and_the_asset_ends_ready(
    api_server: ApiServer, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    sha256 = _big_file(path)
    auth = {"Authorization": f"Bearer {api_server.keys['all']}"}
    port = int(api_server.url.rsplit(":", 1)[1])
    with CuttingProxy("127.0.0.1", port) as proxy:
        first = TusClient(f"{proxy.url}/uploads/", headers=auth).uploader(
            str(path), metadata={"filename": "big.bin", "title": "cut and resumed"}
        )
        proxy.cut_after(CUT_AFTER)
        with pytest.raises((TusUploadFailed, TusCommunicationError)):
            first.upload()
        assert proxy.cut.is_set()
        url = first.url
        _wait_until_no_writer(api_server, uuid.UUID(url.rsplit("/", 1)[1]))

        proxy.cut_after(None)
        before = proxy.sent
        second = TusClient(f"{proxy.url}/uploads/", headers=auth).uploader(str(path), url=url)
        resumed_from = second.offset
        second.upload()
        resent = proxy.sent - before
    task_id = second.request.response_headers["assetflow-task-id"]
    with api_server.client() as client:
        task = _wait_for_task(client, task_id)
        asset = client.get(f"/assets/{task['asset_id']}").json()
        head = client.head(url.replace(proxy.url, api_server.url), headers=TUS)

    # The server kept the whole parts that arrived before the cut, and no more.
    assert 0 < resumed_from <= CUT_AFTER
    assert resent < SIZE - resumed_from + 64 * 1024  # only the rest travelled again
    assert task["status"] == "completed", task
    assert task["file"]["sha256"] == sha256
    assert task["file"]["filesize"] == SIZE
    assert asset["status"] == "ready"
    assert asset["title"] == "cut and resumed"
    assert head.headers["Assetflow-Task-Id"] == task_id
