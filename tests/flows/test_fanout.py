"""How the batch's items are split into task runs."""

from __future__ import annotations

import pytest

from flows.fanout import items_per_task_run


@pytest.mark.parametrize(
    ("pending", "in_flight", "most", "expected"),
    [
        (200, 8, 8, 8),  # a long batch: full task runs
        (10, 8, 8, 2),  # a short one is spread over every slot
        (3, 8, 8, 1),
        (0, 4, 8, 1),
        (50, 1, 100, 50),
    ],
)
def test_items_per_task_run_keeps_every_slot_busy(
    pending: int, in_flight: int, most: int, expected: int
) -> None:
    assert items_per_task_run(pending, in_flight=in_flight, most=most) == expected
