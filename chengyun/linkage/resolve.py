"""Who a plan's recipient is for one alarm: people (in-app), contacts (SMS, e-mail) and configured endpoints.

Pure given its collaborators: the people come from a `Directory` (users and units, `directory.SqlDirectory` in
production, a fake in tests) and the family from a `contacts(device_id)` callable (the devices domain's
`contacts_of`). A party that resolves to nobody yields one `NONE` target, stored as failed, so the gap shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chengyun.linkage.channels import AreaChannels, ChannelKind, Endpoint, UnitSelector
from chengyun.linkage.model import AlarmFacts, Contact, Recipient, RecipientKind, Text, Tier
from chengyun.shared.privacy import mask_phone

ContactsOf = Callable[[str], Sequence[Contact]]
ROSTER_PARTIES = frozenset({RecipientKind.GRID_WORKER, RecipientKind.COMMUNITY, RecipientKind.STREET})
DEFAULT_UNITS = {"center": UnitSelector(("operations_center",)), "community": UnitSelector(("community_committee",)),
                 "street": UnitSelector(("street_office",)), "district": UnitSelector(("operations_center",))}


@dataclass(frozen=True, slots=True)
class Person:
    """A signed-in user who receives in-app notifications."""

    user_id: int
    name: str


class Directory(Protocol):
    """The people linkage needs, found from a device's area path."""

    def grid_workers(self, area_path: str) -> list[Person]:
        """Active grid workers whose area contains the device's area, the nearest (deepest scope) only."""
        ...

    def unit_members(self, area_path: str, level: str, selector: UnitSelector) -> list[Person]:
        """Active staff of the selected units answering for the device's `level` ancestor (community, street,
        district), or for `center` the nearest operations unit on the path."""
        ...

    def operators(self, area_path: str) -> list[Person]:
        """Active operators whose scope contains the device's area (the center's fallback)."""
        ...

    def area_name(self, area_path: str) -> str:
        """A readable name for the place's area in messages (its community), or empty."""
        ...

    def field_staff(self, area_path: str, party: str) -> list[Contact]:
        """People on the org roster (no sign-in needed) answering for `party` at the device's place, with their
        phones: the grid and microgrid workers of the nearest grid, or staff of the community/street unit."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """One concrete recipient of one tier: the stored notification's who, how and where."""

    kind: RecipientKind
    name: str
    label: str
    channel: ChannelKind
    confirm: Text
    key: str  # unique within a tier: `user:<id>`, `none:<party>` or `<channel>:<address>` (hashed when stored)
    user_id: int | None = None
    endpoint: Endpoint | None = None  # the address (phone, e-mail, robot URL) to encrypt and send to


def resolve_tier(tier: Tier, alarm: AlarmFacts, directory: Directory, contacts: ContactsOf,
                 channels: AreaChannels) -> list[Target]:
    """Every target of a tier in plan order; the same person or address appears once."""
    seen: set[str] = set()
    out: list[Target] = []
    for recipient in tier.recipients:
        for target in resolve(recipient, alarm, directory, contacts, channels):
            if target.key not in seen:
                seen.add(target.key)
                out.append(target)
    return out


def resolve(recipient: Recipient, alarm: AlarmFacts, directory: Directory, contacts: ContactsOf,
            channels: AreaChannels) -> list[Target]:
    """The targets of one party; one `NONE` target when nobody is configured or found."""
    kind = recipient.kind
    if kind is RecipientKind.FAMILY:
        found = _family(recipient, contacts(alarm.device_id))
    elif kind is RecipientKind.LIAISON:
        found = _endpoints(recipient, channels.liaisons.get(recipient.name, ()))
    else:
        people = _people(kind, alarm.area_path, directory, channels) if alarm.area_path else []
        found = [_in_app(recipient, p) for p in people]
        if alarm.area_path and kind in ROSTER_PARTIES:  # the people on the ground by SMS, app or not
            found += _family(recipient, directory.field_staff(alarm.area_path, kind.value))
        found += _endpoints(recipient, channels.groups.get(kind.value, ()))
    return found or [Target(kind, recipient.name, recipient.code, ChannelKind.NONE, recipient.confirm,
                            f"none:{recipient.code}")]


def _people(kind: RecipientKind, area_path: str, directory: Directory, channels: AreaChannels) -> list[Person]:
    if kind is RecipientKind.GRID_WORKER:
        return directory.grid_workers(area_path)
    level = "center" if kind is RecipientKind.CENTER else kind.value
    selector = channels.units.get(level, DEFAULT_UNITS[level])
    people = directory.unit_members(area_path, level, selector)
    if not people and kind is RecipientKind.CENTER:
        people = directory.operators(area_path)
    return people


def _in_app(recipient: Recipient, person: Person) -> Target:
    return Target(recipient.kind, recipient.name, person.name, ChannelKind.IN_APP, recipient.confirm,
                  f"user:{person.user_id}", user_id=person.user_id)


def _family(recipient: Recipient, contacts: Iterable[Contact]) -> list[Target]:
    out = []
    for contact in contacts:
        who = f"{contact.name}（{contact.relation}）" if contact.relation else contact.name
        if contact.phone:
            out.append(Target(recipient.kind, "", f"{who} {mask_phone(contact.phone)}", ChannelKind.SMS,
                              recipient.confirm, f"sms:{contact.phone.strip()}",
                              endpoint=Endpoint(ChannelKind.SMS, contact.phone)))
        if contact.email:
            out.append(Target(recipient.kind, "", f"{who} {mask_email(contact.email)}", ChannelKind.EMAIL,
                              recipient.confirm, f"email:{contact.email.strip().lower()}",
                              endpoint=Endpoint(ChannelKind.EMAIL, contact.email)))
    return out


def _endpoints(recipient: Recipient, endpoints: Iterable[Endpoint]) -> list[Target]:
    return [Target(recipient.kind, recipient.name, endpoint_label(e), e.channel, recipient.confirm,
                   f"{e.channel.value}:{e.address}", endpoint=e) for e in endpoints]


def endpoint_label(endpoint: Endpoint) -> str:
    """How a configured endpoint is shown: its label, and a masked number or address (never a robot key)."""
    shown = {ChannelKind.SMS: mask_phone, ChannelKind.EMAIL: mask_email}.get(endpoint.channel)
    tail = shown(endpoint.address) if shown else ""
    return " ".join(part for part in (endpoint.label, tail) if part) or endpoint.channel.value


def mask_email(address: str) -> str:
    """z***@example.cn: the first character and the domain."""
    name, _, domain = address.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"
