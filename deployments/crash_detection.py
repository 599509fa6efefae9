"""Zombie detection: the Prefect server marks a flow run Crashed when its heartbeats stop.

A process that dies with its worker (a killed machine, an OOM kill of the
whole container) cannot report its end. Every flow run sends a heartbeat
event every ``HEARTBEAT_S``; the automation below, evaluated by the server's
triggers service, marks a run Crashed when neither a heartbeat nor any other
event of that run arrives for ``Settings.crash_after_silent_s``. This is the
recipe of Prefect's "detect zombie flows" guide; the jobs then follow the run
through ``flows.hooks.reconcile_jobs``.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

# Seconds between a flow run's heartbeats: Prefect's minimum (it defaults to 180).
HEARTBEAT_S = 30
AUTOMATION_NAME = "assetflow: crash silent flow runs"


def crash_detection(silent_s: float) -> AutomationCore:
    """Build the automation that marks a run Crashed after ``silent_s`` without events."""
    return AutomationCore(
        name=AUTOMATION_NAME,
        description="Marks a flow run Crashed when its heartbeats stop (its process died).",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            # Any event of the run (a heartbeat, a state change) shows it alive or ended.
            expect={"prefect.flow-run.*"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=silent_s),
        ),
        actions=[
            ChangeFlowRunState(
                name=None,
                state=StateType.CRASHED,
                message=f"no heartbeat for {silent_s:.0f} s: its process died",
                force=False,
            )
        ],
    )


def ensure_crash_detection(client: SyncPrefectClient, *, silent_s: float) -> None:
    """Create the automation on the server, or update it to ``silent_s``; idempotent."""
    wanted = crash_detection(silent_s)
    existing = client.read_automations_by_name(AUTOMATION_NAME)
    if not existing:
        client.create_automation(wanted)
        return
    client.update_automation(existing[0].id, wanted)
    # Name clashes from concurrent starts: keep one.
    for duplicate in existing[1:]:
        client.delete_automation(duplicate.id)
