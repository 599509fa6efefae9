"""The read commands' database URL is the one ``Settings`` reads, from the same sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.environment import DEFAULT_DATABASE_URL, database_url
from core.settings import Settings

FROM_FILE = "postgresql+psycopg://file@127.0.0.1:5432/assets"
FROM_ENV = "sqlite:////srv/assets.db"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory to run in with no ASSETFLOW_DATABASE_URL in the environment."""
    monkeypatch.delenv("ASSETFLOW_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("dotenv", "variable", "expected"),
    [
        (None, None, DEFAULT_DATABASE_URL),
        (f"ASSETFLOW_DATABASE_URL={FROM_FILE}\n", None, FROM_FILE),
        # Quoted, exported, in lower case, after other lines: python-dotenv's syntax.
        (
            f"# store\nASSETFLOW_S3_REGION=x\nexport assetflow_database_url='{FROM_FILE}'\n",
            None,
            FROM_FILE,
        ),
        (f"ASSETFLOW_DATABASE_URL={FROM_FILE}\n", ("ASSETFLOW_DATABASE_URL", FROM_ENV), FROM_ENV),
        ("ASSETFLOW_OTHER=1\n", ("assetflow_database_url", FROM_ENV), FROM_ENV),
        # A name without a value leaves the default.
        ("ASSETFLOW_DATABASE_URL\n", None, DEFAULT_DATABASE_URL),
    ],
)
def test_the_database_url_is_the_one_settings_reads(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    dotenv: str | None,
    variable: tuple[str, str] | None,
    expected: str,
) -> None:
    if dotenv is not None:
        (workdir / ".env").write_text(dotenv)
    if variable is not None:
        monkeypatch.setenv(*variable)

    assert (database_url(), Settings().database_url) == (expected, expected)
