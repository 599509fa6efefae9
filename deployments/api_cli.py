"""``assetflow api`` (the HTTP API under uvicorn) and ``assetflow keys`` (its API keys)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer

keys_app = typer.Typer(help="API keys of the HTTP API.", rich_markup_mode=None)

AS_JSON = typer.Option("--json", help="Print JSON")


def api_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes")] = 1,
) -> None:
    """Serve the HTTP API (docs at /docs); runs ingests itself unless PREFECT_API_URL is set."""
    import uvicorn
    from prefect.settings import PREFECT_API_URL

    from core.settings import Settings
    from models.migrate import upgrade_database

    if workers > 1 and not PREFECT_API_URL.value():
        # Each process would take up the same pending jobs at start.
        typer.echo(
            "error: --workers above 1 needs PREFECT_API_URL (ingests on the Prefect workers); "
            "without it one process runs the ingests",
            err=True,
        )
        raise typer.Exit(code=2)
    upgrade_database(Settings().database_url)
    uvicorn.run(
        "api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


def _key_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "prefix": row.prefix,
        "scopes": list(row.scopes),
        "created_at": row.created_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for")],
    scope: Annotated[
        list[str],
        typer.Option(help="assets, assets_publish or assets_delete; repeat for more"),
    ],
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """Make a key and print it, this once: only its hash is kept."""
    from api.keys import Scope, create_key
    from deployments.cli import store_session

    try:
        scopes = [Scope(value) for value in scope]
    except ValueError as exc:
        known = ", ".join(s.value for s in Scope)
        typer.echo(f"error: {exc}; the scopes are {known}", err=True)
        raise typer.Exit(code=2) from exc
    with store_session() as session:
        made = create_key(session=session, name=name, scopes=scopes)
        session.commit()
    if as_json:
        typer.echo(json.dumps(_key_json(made.row) | {"key": made.key}, indent=2))
    else:
        typer.echo(made.key)
        typer.echo(f"(key {made.row.id}; shown once, keep it now)", err=True)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, AS_JSON] = False) -> None:
    """List the keys (never the keys themselves)."""
    from api.keys import list_keys
    from deployments.cli import store_session

    with store_session() as session:
        rows = list_keys(session=session)
    if as_json:
        typer.echo(json.dumps([_key_json(row) for row in rows], indent=2))
        return
    for row in rows:
        state = "revoked" if row.revoked_at else "live"
        typer.echo(f"{row.id}  {row.prefix}  {state:<7} {','.join(row.scopes):<40} {row.name}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[uuid.UUID, typer.Argument(help="The key's id (keys list)")],
    as_json: Annotated[bool, AS_JSON] = False,
) -> None:
    """Revoke a key: it opens nothing from now on."""
    from api.keys import revoke_key
    from deployments.cli import store_session

    with store_session() as session:
        row = revoke_key(session=session, key_id=key_id)
        session.commit()
    if row is None:
        typer.echo(f"error: no key {key_id}", err=True)
        raise typer.Exit(code=1)
    if as_json:
        typer.echo(json.dumps(_key_json(row), indent=2))
    else:
        typer.echo(f"revoked {row.id} ({row.name})")
