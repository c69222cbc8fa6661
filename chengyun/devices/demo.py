"""Storing the demo street's devices (once), with credentials the in-process simulator can derive."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from chengyun.areas.tables import BuildingRow, CompoundRow
from chengyun.devices.demo_plan import Road, Site, demo_devices
from chengyun.devices.tables import DeviceRow
from chengyun.places.tables import PlaceRow

if TYPE_CHECKING:
    from chengyun.bootstrap import Container

DEMO_SOURCE = "demo"


def demo_token(secret_key: str, device_id: str) -> str:
    """A demo device's token, derived from the instance secret: the simulator computes it, nothing stores it."""
    key = hashlib.sha256(f"chengyun:demo-device:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(hmac.digest(key, device_id.encode(), "sha256")[:24]).decode()


def seed_demo_devices(container: Container, rng: np.random.Generator) -> int:
    """Register the demo street's devices once (a few thousand; deterministic for a seed); how many were created
    (0 when the demo devices exist already). Tokens are `demo_token(secret, device_id)`."""
    with container.sessions() as session:
        if session.scalar(select(DeviceRow.id).where(DeviceRow.source == DEMO_SOURCE).limit(1)) is not None:
            return 0
        compounds = {c.code: c for c in session.scalars(select(CompoundRow).order_by(CompoundRow.code))}
        buildings = [Site(b.code, f"{compounds[b.compound_code].name}{b.number}", b.lon, b.lat, b.number, b.floors,
                          b.units, b.households, compounds[b.compound_code].address)
                     for b in session.scalars(select(BuildingRow).order_by(BuildingRow.code))]
        roads = [Road(r.code, r.name, _line(r.geometry))
                 for r in session.scalars(select(PlaceRow).where(PlaceRow.kind == "road").order_by(PlaceRow.code))]
    sites = [Site(c.code, c.name, c.lon, c.lat, households=c.households, address=c.address)
             for c in compounds.values()]
    if not buildings:
        return 0
    index = container.areas.index()
    drafts = [d if d.lon is None or d.lat is None or index.locate(d.lon, d.lat) else replace(d, lon=None, lat=None)
              for d in demo_devices(buildings, sites, roads, rng)]  # a point pushed off the street: the place's
    secret = container.settings.secret_key
    result = container.devices.import_drafts(drafts, source=DEMO_SOURCE, actor="demo",
                                             issue=lambda device_id: demo_token(secret, device_id))
    return result.created


def _line(geometry: str | None) -> tuple[tuple[float, float], ...]:
    if not geometry:
        return ()
    return tuple((float(x), float(y)) for x, y in json.loads(geometry).get("coordinates") or [])
