"""AssetRequest: the one place a request's texts are normalised, before anything redacts them."""

from __future__ import annotations

from core.requests import AssetRequest

SIGNED = "https://bucket.example.com/a.jpg?X-Amz-Signature=s3cr3t&X-Amz-Expires=60"


def test_a_source_with_spaces_around_it_is_redacted_all_the_same() -> None:
    request = AssetRequest(source=f" \t{SIGNED}\n ")

    assert request.source == SIGNED
    assert "s3cr3t" not in request.redacted().source
    assert "s3cr3t" not in request.asset_identifier
    assert request.redacted().source.endswith("X-Amz-Expires=60")


def test_control_and_invisible_characters_around_a_source_are_dropped_before_redaction() -> None:
    # A BOM from a manifest's first cell, a zero-width space from a web page, a NUL.
    request = AssetRequest(source=f"\ufeff\u200b\x00 {SIGNED}\x00\u200b")

    assert request.source == SIGNED
    assert "s3cr3t" not in request.redacted().source
    assert "s3cr3t" not in request.asset_identifier


def test_blank_and_missing_texts_mean_not_given() -> None:
    request = AssetRequest.model_validate(
        {"source": SIGNED, "project": "  ", "title": None, "identifier": " ", "tags": [" a ", " "]}
    )

    assert (request.project, request.title, request.identifier) == ("default", "", "")
    assert request.tags == ["a"]
    assert request.asset_fields() == {
        "title": None,
        "description": None,
        "category": None,
        "external_id": None,
        "folder": None,
        "tags": ["a"],
    }


def test_the_identifier_given_wins_over_the_source() -> None:
    assert AssetRequest(source=SIGNED, identifier=" ep-1 ").asset_identifier == "ep-1"
