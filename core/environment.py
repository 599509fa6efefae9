"""Where the settings come from (``ASSETFLOW_*`` variables, then ``.env``), and the asset
store's URL read from there without building ``Settings``.

``Settings`` (core/settings.py) is the one settings object; it costs
pydantic-settings and a model build, a sixth of a second here. The read
commands (``ls``, ``show``, ``job``, ``similar``, ``keys``) need only the
database URL, so ``database_url`` reads it from the same sources in the same
order with the same ``.env`` parser (python-dotenv, which pydantic-settings
uses); tests/core/test_environment.py holds the two to the same answer.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_PREFIX = "ASSETFLOW_"
# Read from the directory the command runs in.
ENV_FILE = ".env"
# A SQLAlchemy URL (sqlite:///... or postgresql+psycopg://...).
DEFAULT_DATABASE_URL = "sqlite:///./data/assetflow.db"

_DATABASE_URL_NAME = f"{ENV_PREFIX}DATABASE_URL".lower()


def database_url() -> str:
    """Return ``Settings().database_url``: the variable, else ``.env``'s line, else the default.

    Names match in any case, as pydantic-settings matches them.
    """
    given = {name.lower(): value for name, value in os.environ.items()}
    if _DATABASE_URL_NAME in given:
        return given[_DATABASE_URL_NAME]
    env_file = Path(ENV_FILE).expanduser()
    if env_file.is_file():
        from dotenv import dotenv_values

        written = {
            name.lower(): value for name, value in dotenv_values(env_file, encoding=None).items()
        }
        if (value := written.get(_DATABASE_URL_NAME)) is not None:
            return value
    return DEFAULT_DATABASE_URL
