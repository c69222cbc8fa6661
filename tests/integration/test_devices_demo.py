"""The demo street's devices stored on SQLite and PostgreSQL: a few thousand, once, deterministic, usable."""

from __future__ import annotations

from collections import Counter

import numpy as np
from sqlalchemy import select

from chengyun.bootstrap import Container
from chengyun.demo.load import ensure_demo
from chengyun.devices.demo import demo_token, seed_demo_devices
from chengyun.devices.tables import DeviceRow


def _devices(container: Container) -> list[tuple[str, str, str | None, str | None, float, float]]:
    with container.sessions() as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(DeviceRow.device_id, DeviceRow.type_code, DeviceRow.place_code, DeviceRow.household,
                   DeviceRow.lon, DeviceRow.lat).order_by(DeviceRow.device_id))]


def test_the_demo_devices_are_seeded_once_with_derivable_tokens_and_family_contacts(container: Container) -> None:
    said: list[str] = []
    ensure_demo(container, echo=said.append)  # the demo street comes with its devices
    stored = _devices(container)
    created = len(stored)
    assert 3000 <= created <= 6000 and f"{created} demo devices installed" in said
    assert seed_demo_devices(container, np.random.default_rng(2026)) == 0
    ensure_demo(container, echo=lambda _: None)
    assert len(_devices(container)) == created
    per_type = Counter(row[1] for row in stored)
    assert set(per_type) == {"gas_detector", "smoke_detector", "water_meter", "sos_button", "door_sensor",
                             "hydrant_pressure", "water_immersion", "thermal_camera"}
    assert per_type["sos_button"] == per_type["door_sensor"] == per_type["water_meter"] == 160
    assert all(row[2] is not None for row in stored)  # every device sits at a gazetteer place
    assert all(row[2].startswith("road-") for row in stored if row[1] == "hydrant_pressure")  # type: ignore[union-attr]
    directory = container.devices.directory()
    assert len(directory) == created
    secret = container.settings.secret_key
    sos = [row[0] for row in stored if row[1] == "sos_button"]
    assert all(directory.verify(device_id, demo_token(secret, device_id)) for device_id in sos[:20])
    assert not directory.verify(sos[0], demo_token(secret, sos[1]))
    facts = directory.facts(sos[0])
    assert facts is not None and facts.household and facts.resident_id and len(facts.place_codes) == 2
    home = [row[0] for row in stored if row[3] == facts.household]
    assert len(home) >= 5  # water meter, door sensor, SOS button, gas and smoke detectors in the same home
    contacts = container.devices.contacts_of(sos[0], reason="demo check")
    assert 1 <= len(contacts) <= 3 and all(len(c.phone) == 11 and "****" in c.phone_masked for c in contacts)
