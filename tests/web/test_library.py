"""What a person sees of the library in chromium: the grid, a video, a waveform, an image,
a bad key, and a JPEG dropped on the upload page (Uppy over tus) until it is ready.

One module: the demo library is ingested once for all of them.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from api.auth import KEY_COOKIE
from api.web.pages import KEY_REFUSED, SIGN_IN_FIRST
from tests.fixtures.audio_media import noisy_clip
from tests.fixtures.browser import screenshot
from tests.fixtures.images import scene
from tests.web.conftest import Library, sign_in

LOADED = "img => img.complete && img.naturalWidth > 0"


def test_a_wrong_key_shows_a_sentence_not_a_blank_page(page: Page, library: Library) -> None:
    page.goto(library.url)
    expect(page.get_by_role("alert")).to_have_text(SIGN_IN_FIRST)

    sign_in(page, library, key="af_not-a-key-anyone-made")

    expect(page.get_by_role("alert")).to_have_text(KEY_REFUSED)
    expect(page.get_by_label("API key")).to_be_visible()
    screenshot(page, "signin-wrong-key")


def test_the_library_shows_the_three_demo_assets_with_their_pictures(
    page: Page, library: Library
) -> None:
    sign_in(page, library)

    cards = page.get_by_role("list", name="Assets").get_by_role("listitem")
    expect(cards).to_have_count(3)
    for title in ("Demo photo.jpg", "Demo clip.mp4", "Demo tones.wav"):
        expect(cards.filter(has_text=title)).to_have_count(1)
    for title in ("Demo photo.jpg", "Demo clip.mp4"):
        picture = page.get_by_role("img", name=title)
        picture.scroll_into_view_if_needed()
        page.wait_for_function(LOADED, arg=picture.element_handle())
    screenshot(page, "library")

    # The keyboard alone: past the skip link and the menu to the cards, Enter opens one.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    first_card = cards.first.get_by_role("link")
    for _ in range(20):
        page.keyboard.press("Tab")
        if first_card.evaluate("link => link === document.activeElement"):
            break
    expect(first_card).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Demo tones.wav")
    page.go_back()

    page.get_by_label("Search").fill("tones")
    page.get_by_role("button", name="Filter").click()
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text("Demo tones.wav")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(library.url)
    # A phone: the grid fits the width, nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "library-phone")


def test_a_clip_is_found_in_the_track_it_was_cut_from(
    page: Page, library: Library, tmp_path: Path
) -> None:
    clip = noisy_clip(
        library.media_dir / "tones.wav", tmp_path / "clip.mp3", start_s=6.0, duration_s=8.0
    )
    sign_in(page, library)

    page.get_by_label("An audio or video clip").set_input_files(clip)
    page.get_by_role("button", name="Find").click()

    found = page.locator("#match-results li")
    expect(found.first).to_contain_text("Demo tones.wav at 0:06 ")
    expect(found.first.get_by_role("link")).to_have_attribute(
        "href", f"/library/{library.assets['tones.wav']}"
    )
    screenshot(page, "library-match")


def test_the_video_seeks_and_shows_its_poster_and_scrubbing_previews(
    page: Page, library: Library
) -> None:
    sign_in(page, library)
    page.goto(f"{library.url}/library/{library.assets['clip.mp4']}")

    video = page.locator("video#media")
    seeked = video.evaluate(
        """video => new Promise((resolve, reject) => {
            video.addEventListener('seeked', () => resolve(video.currentTime), {once: true});
            video.addEventListener('error', () => reject(new Error('the proxy did not load')));
            const go = () => { video.currentTime = 2; };
            if (video.readyState >= 1) go();
            else video.addEventListener('loadedmetadata', go, {once: true});
        })"""
    )
    assert abs(seeked - 2.0) < 0.1
    poster = page.get_by_role("img", name="Poster frame of Demo clip.mp4")
    page.wait_for_function(LOADED, arg=poster.element_handle())

    seek = page.get_by_label("Position")
    box = seek.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    preview = page.get_by_role("img", name="Preview at the pointer's position")
    expect(preview).to_be_visible()
    page.wait_for_function(LOADED, arg=preview.element_handle())
    assert "format=KEYFRAMES" in (preview.get_attribute("src") or "")
    expect(page.get_by_role("table").filter(has_text="PROXY")).to_be_visible()
    screenshot(page, "asset-video")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#waveform[data-ready=true]")).to_be_attached()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "asset-video-phone")


def test_the_waveform_is_drawn_from_the_audiowaveform_json(page: Page, library: Library) -> None:
    sign_in(page, library)
    page.goto(f"{library.url}/library/{library.assets['tones.wav']}")

    expect(page.locator("#waveform[data-ready=true]")).to_be_attached()
    # Some pixel of the zoomed waveform's canvases is painted.
    drawn = page.wait_for_function(
        """() => [...document.querySelectorAll('#zoomview canvas')].some(canvas => {
            const {width, height} = canvas;
            if (!width || !height) return false;
            const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
            return false;
        })"""
    )
    assert drawn.json_value()
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("() => !document.querySelector('#media').paused")
    page.get_by_role("button", name="Pause").click()
    screenshot(page, "asset-audio")


def test_the_image_page_offers_its_sizes_through_srcset(page: Page, library: Library) -> None:
    sign_in(page, library)
    page.goto(f"{library.url}/library/{library.assets['photo.jpg']}")

    picture = page.get_by_role("img", name="Demo photo.jpg")
    page.wait_for_function(LOADED, arg=picture.element_handle())
    srcset = picture.get_attribute("srcset") or ""
    assert all(f"format=SIZE_{edge}" in srcset for edge in (160, 320, 640, 1280))
    expect(page.get_by_role("heading", name="Looks like")).to_be_visible()
    screenshot(page, "asset-image")


DROP = """(encoded) => {
    const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], 'dropped.jpg', {type: 'image/jpeg'}));
    return transfer;
}"""


def _jpeg() -> str:
    buffer = io.BytesIO()
    scene(900, 600, seed=14).save(buffer, format="JPEG", quality=85)
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_dropped_jpeg_is_uploaded_over_tus_and_ends_ready_with_its_sizes(
    page: Page, library: Library
) -> None:
    sign_in(page, library)
    page.goto(f"{library.url}/upload")
    target = page.locator(".uppy-DragDrop-container")
    expect(target).to_be_visible()
    screenshot(page, "upload")

    tus_requests: list[str] = []
    page.on("request", lambda r: tus_requests.append(r.method) if "/uploads/" in r.url else None)
    transfer = page.evaluate_handle(DROP, _jpeg())
    target.dispatch_event("dragover", {"dataTransfer": transfer})
    target.dispatch_event("drop", {"dataTransfer": transfer})

    done = page.locator("#uploaded li[data-file='dropped.jpg']")
    expect(done).to_have_attribute("data-state", "ready")
    expect(done).to_contain_text("sizes SIZE_160, SIZE_320, SIZE_640")
    assert "POST" in tus_requests  # the tus creation, then its PATCHes
    screenshot(page, "upload-done")

    done.get_by_role("link").click()
    picture = page.get_by_role("img", name="dropped.jpg")
    page.wait_for_function(LOADED, arg=picture.element_handle())


def test_an_unknown_asset_is_a_sentence(page: Page, library: Library) -> None:
    sign_in(page, library)
    response = page.goto(f"{library.url}/library/00000000-0000-4000-8000-000000000000")

    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("Asset not found")


def test_the_sign_in_cookie_reads_but_never_writes(library: Library) -> None:
    """A page of another site can make the browser send the cookie: it must not change anything."""
    cookies = {KEY_COOKIE: library.key}
    asset = library.assets["photo.jpg"]
    with httpx.Client(base_url=library.url, cookies=cookies) as browser_like:
        read = browser_like.get(f"/assets/{asset}")
        delete = browser_like.delete(f"/assets/{asset}")
        create = browser_like.post("/files", json={"url": "http://127.0.0.1:9/x.jpg"})

    assert read.status_code == 200
    assert delete.status_code == 401
    assert create.status_code == 401
    assert httpx.get(f"{library.url}/assets/{asset}", cookies=cookies).status_code == 200
