"""SVG through resvg: rendered within the largest size, never reading anything but itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from core.errors import CorruptMedia, UnsupportedMedia
from tests.fixtures.http_server import LocalHTTPServer, ServeFile
from tests.tasks.images.conftest import Run, alpha, near, opened


def _svg(path: Path, body: str, *, size: str = 'width="40" height="40"') -> Path:
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'{size} viewBox="0 0 40 40">{body}</svg>'
    )
    return path


def _red_png(path: Path) -> Path:
    Image.new("RGB", (40, 40), "red").save(path)
    return path


def test_outside_resources_are_neither_fetched_nor_read(
    tmp_path: Path, http_server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    secret = _red_png(tmp_path / "secret.png")
    url = http_server.route("/tracker.png", ServeFile(secret, "image/png"))
    monkeypatch.chdir(tmp_path)  # where resvg looks for relative paths
    references = [
        ("href", url),
        ("xlink:href", f"file://{secret}"),
        ("href", str(secret)),
        ("xlink:href", "secret.png"),
    ]
    images = "".join(
        f'<image {attribute}="{href}" x="{10 * i}" width="10" height="40"/>'
        for i, (attribute, href) in enumerate(references)
    )
    result = run(_svg(tmp_path / "leaky.svg", images), edges=(40,))

    assert http_server.requests("/tracker.png") == []
    (picture,) = opened(result)
    for x in (5, 15, 25, 35):
        assert alpha(picture.getpixel((x, 20))) == 0, f"a referenced image was drawn at x={x}"
    assert result.as_metadata()["external_references_removed"] == 4


def test_inline_images_and_fragments_still_render(tmp_path: Path, run: Run) -> None:
    import base64

    inline = base64.b64encode(_red_png(tmp_path / "red.png").read_bytes()).decode()
    body = (
        '<defs><rect id="r" width="20" height="40" fill="blue"/></defs><use href="#r"/>'
        f'<image href="data:image/png;base64,{inline}" x="20" width="20" height="40"/>'
    )
    (picture,) = opened(run(_svg(tmp_path / "ok.svg", body), edges=(40,)))
    assert near(picture.getpixel((10, 20)), (0, 0, 255, 255))
    assert near(picture.getpixel((30, 20)), (255, 0, 0, 255))


def test_a_huge_declared_canvas_is_rendered_within_the_largest_size(
    tmp_path: Path, run: Run
) -> None:
    svg = _svg(tmp_path / "huge.svg", '<rect width="40" height="20" fill="red"/>',
               size='width="400000" height="400000"')  # fmt: skip
    result = run(svg, edges=(160, 320))
    assert [img.size for img in opened(result)] == [(160, 160), (320, 320)]


def test_physical_units_render(tmp_path: Path, run: Run) -> None:
    svg = _svg(
        tmp_path / "mm.svg", '<rect width="40" height="40"/>', size='width="8cm" height="4cm"'
    )
    assert [img.size for img in opened(run(svg, edges=(320,)))] == [(320, 160)]


def test_entities_are_refused_with_a_sentence(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "lol.svg"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><title>&b;</title></svg>'
    )
    with pytest.raises(UnsupportedMedia, match=r"^SVG declares XML entities"):
        run(path)


def test_broken_markup_fails_with_a_sentence(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "cut.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect')
    with pytest.raises(CorruptMedia, match=r"^SVG is not well-formed XML"):
        run(path)
