"""The REST API under /api/v1: a thin, documented face over the database and Prefect, JWT-protected.

One ``APIRouter`` per area (auth, tasks, devices, clips, search, plates), served by the web UI's
process. The UI's session login does not apply here (``webui.auth.is_public``): every endpoint but
``POST /auth/token`` needs a bearer token (see :mod:`webui.api.security`). The schema of just these
endpoints is served at /api/v1/openapi.json, with Swagger UI at /api/v1/docs; Swagger UI's files come
from the ``fastapi-offline`` package and are served here (/api/v1/docs/static), so the page works
offline and runs no third-party script on the UI's origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from dashcam import __version__

PREFIX = "/api/v1"
TITLE = "dashcam-processor API"
DESCRIPTION = (
    "Tasks, devices, clips, search and plates of the dashcam pipeline. "
    "Get a token with `POST /api/v1/auth/token` and send it as `Authorization: Bearer <token>`."
)


def build_router() -> APIRouter:
    """Every area's router under /api/v1."""
    from webui.api import auth, clips, devices, plates, search, sightings, tasks

    api = APIRouter(prefix=PREFIX)
    for module in (auth, tasks, devices, clips, search, plates, sightings):
        api.include_router(module.router)
    return api


def register(app: FastAPI) -> None:
    """Include the API and its schema and docs page in ``app`` (NiceGUI's FastAPI app)."""
    from webui.api import metrics

    api = build_router()
    app.include_router(api)
    metrics.register(app)
    schema: dict[str, Any] = {}

    @app.get(f"{PREFIX}/openapi.json", include_in_schema=False)
    def openapi() -> JSONResponse:
        if not schema:
            schema.update(
                get_openapi(title=TITLE, version=__version__, description=DESCRIPTION, routes=api.routes)
            )
        return JSONResponse(schema)

    import fastapi_offline

    assets = f"{PREFIX}/docs/static"
    app.mount(
        assets, StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="api-docs"
    )

    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{PREFIX}/openapi.json",
            title=f"{TITLE} docs",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
        )


__all__ = ["PREFIX", "build_router", "register"]
