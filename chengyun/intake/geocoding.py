"""Intake's view of the gazetteer: a point for an address (or the candidates an operator chooses from), and a
readable address for a GPS point."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chengyun.places import Candidate, Geocoded, ReverseGeocoded

Placed = tuple[tuple[float, float] | None, list[dict[str, Any]]]


class Places(Protocol):
    """The part of the places service intake uses."""

    def geocode(self, text: str, scope_path: str | None = None) -> Geocoded: ...

    def reverse(self, lon: float, lat: float) -> ReverseGeocoded: ...


@dataclass(frozen=True)
class GazetteerGeocoder:
    """Adapts the places service to intake: only a clear best match places a report, never a guess."""

    places: Places

    def place(self, text: str, scope_path: str | None = None) -> Placed:
        """((lon, lat) when one place clearly matches, else None; the candidates as plain dicts, best first)."""
        found = self.places.geocode(text, scope_path)
        point = (found.best.entry.lon, found.best.entry.lat) if found.best is not None else None
        return point, [candidate_json(c) for c in found.candidates]

    def describe(self, lon: float, lat: float) -> str:
        """A readable address for a WGS84 point (reverse geocoding), '' when nothing is known there."""
        return self.places.reverse(lon, lat).address or ""


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    """One candidate as stored with a report under review and shown to the operator."""
    entry = candidate.entry
    return {"code": entry.code, "name": entry.name, "kind": entry.kind.value, "address": entry.address,
            "lon": entry.lon, "lat": entry.lat, "area_code": entry.area_code, "score": round(candidate.score, 1),
            "why": list(candidate.why)}
