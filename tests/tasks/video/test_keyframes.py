"""Keyframe map geometry and its WebVTT, without ffmpeg."""

from __future__ import annotations

import re

import pytest

from tasks.video.keyframes import KeyframePlan, plan_keyframes, render_vtt


def assert_consistent(plan: KeyframePlan, duration_s: float) -> None:
    """Every cue sits inside its sheet, and the cues tile the duration without gaps."""
    sheet_w, sheet_h = plan.sheet_size
    assert len(plan.cues) == plan.frame_count
    assert plan.cues[0].start_s == 0
    assert plan.cues[-1].end_s == pytest.approx(duration_s, abs=0.001)
    for before, after in zip(plan.cues, plan.cues[1:], strict=False):
        assert after.start_s == before.end_s
    for cue in plan.cues:
        assert cue.end_s > cue.start_s
        assert 0 <= cue.sheet_index < plan.sheet_count
        assert cue.x >= 0 and cue.x + cue.w <= sheet_w
        assert cue.y >= 0 and cue.y + cue.h <= sheet_h
        assert (cue.w, cue.h) == (plan.frame_width, plan.frame_height)


def test_short_video_samples_twice_a_second_on_a_small_sheet() -> None:
    plan = plan_keyframes(4.0, 1920, 1080)

    assert plan.interval_s == 0.5
    assert plan.frame_count == 8
    assert (plan.frame_width, plan.frame_height) == (160, 90)
    assert (plan.columns, plan.rows, plan.sheet_count) == (8, 1, 1)
    assert plan.sheet_size == (1280, 90)
    assert_consistent(plan, 4.0)


def test_partial_last_interval_gets_its_own_short_cue() -> None:
    plan = plan_keyframes(4.2, 640, 360)

    assert plan.frame_count == 9
    assert (plan.cues[-1].start_s, plan.cues[-1].end_s) == (4.0, 4.2)
    assert_consistent(plan, 4.2)


def test_long_video_is_capped_at_160_frames_on_two_10x10_sheets() -> None:
    plan = plan_keyframes(3600.0, 1280, 720)

    assert plan.interval_s == 22.5
    assert plan.frame_count == 160
    assert (plan.columns, plan.rows, plan.sheet_count) == (10, 10, 2)
    last = plan.cues[-1]
    assert (last.sheet_index, last.x, last.y) == (1, 9 * 160, 5 * 90)
    assert_consistent(plan, 3600.0)


@pytest.mark.parametrize("duration_s", [0.04, 1.0, 79.9, 80.0, 80.1, 100.0001, 5432.1])
def test_frame_count_never_passes_160_nor_two_a_second(duration_s: float) -> None:
    plan = plan_keyframes(duration_s, 641, 361)

    assert 1 <= plan.frame_count <= 160
    assert plan.interval_s >= 0.5
    assert_consistent(plan, duration_s)


def test_portrait_and_odd_sizes_give_even_tile_heights() -> None:
    assert plan_keyframes(2.0, 1080, 1920).frame_height == 284
    assert plan_keyframes(2.0, 641, 361).frame_height == 90
    assert plan_keyframes(2.0, 400, 2).frame_height == 2


def test_nothing_to_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="no keyframes"):
        plan_keyframes(0.0, 640, 360)


def test_vtt_points_every_cue_into_its_sheet_url() -> None:
    plan = plan_keyframes(90.0, 1280, 720)  # 180 s / 0.5 s = 180 > 160: two sheets
    urls = ["https://cdn.example/a.jpg", "https://cdn.example/b.jpg"]

    vtt = render_vtt(plan, urls)

    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.563\nhttps://cdn.example/a.jpg")
    cues = re.findall(r"(\S+) --> (\S+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", vtt)
    assert len(cues) == plan.frame_count == 160
    assert cues[99][2:] == ("https://cdn.example/a.jpg", "1440", "810", "160", "90")
    assert cues[100][2:] == ("https://cdn.example/b.jpg", "0", "0", "160", "90")
    assert cues[-1][1] == "00:01:30.000"


def test_vtt_formats_hours() -> None:
    plan = plan_keyframes(3725.0, 160, 90)

    assert "01:02:05.000\n" in render_vtt(plan, ["s0.jpg", "s1.jpg"])


def test_vtt_needs_one_url_per_sheet() -> None:
    plan = plan_keyframes(90.0, 1280, 720)

    with pytest.raises(ValueError, match="2 sheets in the plan, 1 URLs given"):
        render_vtt(plan, ["only-one.jpg"])
