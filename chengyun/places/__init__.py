"""Places: Chinese address parsing, the gazetteer (compounds, buildings, roads, POIs), geocoding and reverse
geocoding. Other domains use what is exported here."""

from chengyun.places.model import (
    AMBIGUOUS,
    EMPTY,
    NOT_FOUND,
    OUTSIDE,
    Candidate,
    GazetteerEntry,
    Geocoded,
    PlaceKind,
)
from chengyun.places.nearby import ReverseGeocoded
from chengyun.places.parsing import ParsedAddress, parse_address
from chengyun.places.tabular import PlaceDraft

__all__ = ["AMBIGUOUS", "EMPTY", "NOT_FOUND", "OUTSIDE", "Candidate", "GazetteerEntry", "Geocoded", "ParsedAddress",
           "PlaceDraft", "PlaceKind", "ReverseGeocoded", "parse_address"]
