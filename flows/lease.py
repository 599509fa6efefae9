"""A processing asset's lease: renewed while its run works on it, taken over once it runs out.

A run that takes up an asset sets ``Asset.lease_expires_at`` and renews it
every third of ``Settings.lease_s`` from a thread beside the work. A run that
dies (a killed worker, a lost machine) or could not record its end (the
database down past the outage window) stops renewing it; once it has run
out, the next run of that asset (a batch re-run, an ingest of the same
identifier, ``reprocess-asset``, ``reconcile-jobs``) takes the asset over
and fails the jobs the dead run left unfinished, saying so.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from core.errors import DatabaseUnavailable
from core.logs import get_logger
from models import graph
from models.db import asset_store_errors, new_session
from models.tables import Asset, AssetStatus, IngestJob, JobStatus, utcnow

logger = get_logger("flows.lease")

UNFINISHED_JOB = (JobStatus.PENDING, JobStatus.RUNNING)


def lease_until(lease_s: float) -> datetime:
    """Return when a lease taken or renewed now runs out."""
    return utcnow() + timedelta(seconds=lease_s)


def lease_ran_out(asset: Asset, *, now: datetime | None = None) -> bool:
    """Tell whether the asset is processing under a lease nobody renewed in time.

    A processing asset without a lease was left by a version before leases:
    nobody renews it either.
    """
    if asset.status != AssetStatus.PROCESSING:
        return False
    expires = asset.lease_expires_at
    return expires is None or expires <= (now or utcnow())


def take_over(session: Session, asset: Asset, *, by: str) -> list[uuid.UUID]:
    """Fail the unfinished jobs a dead run left on the asset; return their ids.

    ``by`` says who takes the asset over, e.g. "job 1234" or "reconcile-jobs".
    The caller then works on the asset (or ends it) in the same transaction.
    """
    expired = asset.lease_expires_at
    since = f" at {expired:%Y-%m-%d %H:%M:%S} UTC" if expired else ""
    error = f"its run stopped renewing the asset's lease{since}; taken over by {by}"
    stale = session.exec(
        select(IngestJob).where(
            IngestJob.asset_id == asset.id, col(IngestJob.status).in_(UNFINISHED_JOB)
        )
    ).all()
    for job in stale:
        graph.update_job(
            session=session, job=job, status=JobStatus.FAILED, error=error, secret_source=None
        )
    return [job.id for job in stale]


def renew(engine: Engine, asset_id: uuid.UUID, lease_s: float) -> None:
    """Push the processing asset's lease ``lease_s`` on, trying once."""
    with asset_store_errors(engine), new_session(engine) as session:
        session.execute(
            update(Asset)
            .where(col(Asset.id) == asset_id, col(Asset.status) == AssetStatus.PROCESSING)
            .values(lease_expires_at=lease_until(lease_s))
        )
        session.commit()


@contextmanager
def keep_lease(engine: Engine, asset_id: uuid.UUID, lease_s: float) -> Iterator[None]:
    """Renew the asset's lease every third of ``lease_s`` until the block ends.

    A renewal that meets the database down is skipped, not fatal: the lease
    outlasts the outage window, and the work's own writes ride the outage out.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(lease_s / 3):
            try:
                renew(engine, asset_id, lease_s)
            except DatabaseUnavailable as exc:
                logger.warning("could not renew the lease of asset %s: %s", asset_id, exc)

    beater = threading.Thread(target=beat, name=f"lease-{asset_id}", daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join()
