"""Devices, residents and device types as the API and the CLI show them (phones masked, never the credential)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chengyun.devices.catalogue import DeviceType, PropertySpec
from chengyun.devices.tables import CareContactRow, CareResidentRow, DeviceRow


def device_json(row: DeviceRow, types: Mapping[str, DeviceType]) -> dict[str, Any]:
    """One device: identity, type, place, area, status (no credential)."""
    kind = types.get(row.type_code)
    return {
        "device_id": row.device_id, "type": row.type_code, "type_name": kind.name_zh if kind else row.type_code,
        "type_name_en": kind.name_en if kind else row.type_code, "name": row.name, "area_code": row.area_code,
        "place_code": row.place_code, "compound_code": row.compound_code, "building": row.building,
        "unit": row.unit, "room": row.room, "household": row.household, "lon": row.lon, "lat": row.lat,
        "status": row.status, "last_seen_at": row.last_seen_at.isoformat() if row.last_seen_at else None,
        "has_resident": row.resident_id is not None, "active": row.active, "source": row.source,
        "created_at": row.created_at.isoformat(),
    }


def resident_json(row: CareResidentRow, contacts: Sequence[CareContactRow]) -> dict[str, Any]:
    """A resident in care with contacts, phones masked."""
    return {"id": row.id, "name": row.name, "phone": row.phone_masked, "address": row.address, "notes": row.notes,
            "contacts": [{"seq": c.seq, "name": c.name, "relation": c.relation, "phone": c.phone_masked}
                         for c in contacts]}


def type_json(kind: DeviceType) -> dict[str, Any]:
    """A device type with its properties, events, heartbeat and FIWARE mapping."""
    return {
        "code": kind.code, "name": kind.name_zh, "name_en": kind.name_en, "heartbeat_s": kind.heartbeat_s,
        "fiware_category": kind.fiware_category, "controlled_property": list(kind.controlled_property),
        "properties": [_property(p) for p in kind.properties],
        "status_properties": [_property(p) for p in kind.status_properties],
        "events": [{"code": e.code, "name": e.name_zh, "name_en": e.name_en} for e in kind.events],
    }


def _property(spec: PropertySpec) -> dict[str, Any]:
    return {"code": spec.code, "name": spec.name_zh, "name_en": spec.name_en, "datatype": spec.datatype.value,
            "unit": spec.unit, "min": spec.min, "max": spec.max, "values": list(spec.values) or None,
            "fiware": spec.fiware}
