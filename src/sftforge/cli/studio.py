"""``sftforge studio``: start the web workspace on 127.0.0.1 and open it in the browser.

One process: the FastAPI app (``sftforge.studio.app``) served by uvicorn, its data in ``--home``.
Listening on anything but loopback needs users or a token (studio-guard's check); without that
module such a host is refused outright.
"""

from __future__ import annotations

import importlib
import threading
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from ..errors import MissingDependency, SftforgeError
from .main import app

__all__ = ["studio"]


def _check_bind(settings: object) -> None:
    """Refuse a non-loopback host that nothing protects."""
    from ..studio.settings import StudioSettings

    assert isinstance(settings, StudioSettings)
    if settings.local_only:
        return
    try:
        auth = importlib.import_module("sftforge.studio.auth")
    except ModuleNotFoundError:
        auth = None
    check = getattr(auth, "check_bind", None)
    if check is None:
        raise SftforgeError(
            f"refusing to listen on {settings.host}: this build has no login for remote users.",
            hint="use --host 127.0.0.1 (the default) and reach it through an SSH tunnel",
        )
    check(settings)


@app.command()
def studio(
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="port to listen on")] = 7860,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="folder for the studio's data (default ~/.sftforge/studio)"),
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option("--data-root", help="server folder whose files may be imported by path"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", help="access token required when not on localhost"),
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="do not open the browser")
    ] = False,
) -> None:
    """Start the web workspace (browse, edit, review, version, export) on 127.0.0.1."""
    try:
        import uvicorn

        from ..studio.app import create_app
        from ..studio.settings import StudioSettings
    except ModuleNotFoundError as err:
        raise MissingDependency(err.name or "fastapi", "studio", "sftforge studio") from None
    settings = StudioSettings.from_env(
        host=host, port=port, home=home, data_root=data_root, token=token,
        open_browser=not no_browser,
    )  # fmt: skip
    _check_bind(settings)
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{shown}:{settings.port}/"
    typer.echo(f"sftforge studio: {url} (data in {settings.home}); Ctrl+C stops it")
    if settings.open_browser:
        threading.Timer(1.0, webbrowser.open, (url,)).start()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
