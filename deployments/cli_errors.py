"""How a command reports a server it cannot use: one sentence on stderr and an exit code.

2: the asset store cannot be read, or the Prefect API cannot be reached; 1:
what the command was asked to do was refused (no such deployment).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer


def fail(sentence: str, *, code: int, cause: BaseException) -> NoReturn:
    """Print ``error: sentence`` on stderr and exit with ``code``."""
    typer.echo(f"error: {sentence}", err=True)
    raise typer.Exit(code=code) from cause


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """Report an asset store at ``url`` that cannot be read (down, not migrated)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        fail(
            f"cannot read the asset store at {shown}: {exc.orig}; "
            "is it up, and migrated ('assetflow db upgrade')?",
            code=2,
            cause=exc,
        )


@contextmanager
def service_errors() -> Iterator[None]:
    """Report a Prefect API or asset store that failed a service command (Prefect is loaded)."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    from core.errors import IngestError, PermanentError
    from core.settings import Settings

    with store_errors(Settings().database_url):
        try:
            yield
        except httpx.HTTPError as exc:
            fail(
                f"the Prefect API at {PREFECT_API_URL.value()} failed: {exc}; is the server up?",
                code=2,
                cause=exc,
            )
        except IngestError as exc:
            fail(str(exc), code=1 if isinstance(exc, PermanentError) else 2, cause=exc)
