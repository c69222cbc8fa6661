"""The FastAPI app factory: routers of every domain, errors, offline docs, static assets, health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

import chengyun
from chengyun.alarms import api as alarms_api
from chengyun.alarms import pages as alarms_pages
from chengyun.areas import api as areas_api
from chengyun.areas import pages as areas_pages
from chengyun.audit import api as audit_api
from chengyun.auth import api as auth_api
from chengyun.auth import pages as auth_pages
from chengyun.bootstrap import Container, bootstrap
from chengyun.cases import api as cases_api
from chengyun.cases import attachments_api, kpi_api, kpi_pages
from chengyun.cases import pages as cases_pages
from chengyun.categories import api as categories_api
from chengyun.config import load_settings
from chengyun.demo import drill as demo_drill
from chengyun.devices import api as devices_api
from chengyun.devices import pages as device_pages
from chengyun.ingest import api as ingest_api
from chengyun.intake import api as intake_api
from chengyun.intake import open311_api, review_pages, webhooks_api
from chengyun.intake import pages as phone_pages
from chengyun.intake import public_api as public_intake_api
from chengyun.linkage import api as linkage_api
from chengyun.linkage import pages as linkage_pages
from chengyun.org import api as org_api
from chengyun.patrol import api as patrol_api
from chengyun.places import api as places_api
from chengyun.routing import api as duty_api
from chengyun.screen import api as screen_api
from chengyun.screen import pages as screen_pages
from chengyun.triage import api as triage_api
from chengyun.triage import pages as hot_pages
from chengyun.web import home
from chengyun.web.compress import CompressLarge
from chengyun.web.errors import install_error_handlers
from chengyun.web.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parent / "static"
log = logging.getLogger("chengyun.web")


@asynccontextmanager
async def _warm(app: FastAPI) -> AsyncIterator[None]:
    """Build the in-memory indexes at startup, so the first burst of requests does not queue behind them."""
    try:
        await run_in_threadpool(app.state.container.warm_up)
    except Exception:  # e.g. a database not migrated yet: the requests will say so; startup goes on
        log.warning("warm-up skipped", exc_info=True)
    yield


def create_app(container: Container) -> FastAPI:
    """Build the web application around an already-wired container."""
    app = FastAPI(title="Chengyun 城运", version=chengyun.__version__, docs_url=None, redoc_url=None,
                  lifespan=_warm)
    app.state.container = container
    app.state.templates = make_templates(container.settings.tz)
    install_error_handlers(app)
    app.add_middleware(CompressLarge)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # the busiest machine paths first: a request is matched against the routes in this order
    # (triage before intake: its /api/reports/similar must not be read as a report token)
    routers = (ingest_api, open311_api, triage_api, intake_api, cases_api, auth_api, areas_api, org_api, audit_api,
               categories_api, kpi_api, attachments_api, duty_api, webhooks_api, auth_pages, areas_pages,
               cases_pages, review_pages, kpi_pages, hot_pages, screen_pages, screen_api, home, public_intake_api,
               places_api, patrol_api, phone_pages, devices_api, alarms_api, alarms_pages, device_pages, demo_drill,
               linkage_api, linkage_pages)
    for module in routers:
        app.include_router(module.router)
    _add_docs_and_health(app, container)
    return app


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker process (`chengyun serve --workers N`): settings from the environment."""
    return create_app(bootstrap(load_settings()))


def _add_docs_and_health(app: FastAPI, container: Container) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="Chengyun 城运 API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/healthz", tags=["system"], summary="Liveness and database check")
    async def health() -> JSONResponse:
        ok = container.database_ok()
        body = {"status": "ok" if ok else "degraded", "database": "ok" if ok else "unreachable",
                "version": chengyun.__version__}
        return JSONResponse(body, status_code=200 if ok else 503)
