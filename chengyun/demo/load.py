"""Storing the generated demo street and its demo accounts (one per role)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengyun.areas.repository import AreaRepository
from chengyun.areas.tables import AreaRow, BuildingRow, CompoundRow
from chengyun.audit import record
from chengyun.auth.model import Role
from chengyun.auth.tables import UserRow
from chengyun.bootstrap import Container
from chengyun.demo.district import DemoDistrict, build_demo_district
from chengyun.demo.places import Community, demo_places
from chengyun.org.tables import PersonRow, UnitRow
from chengyun.shared.privacy import PersonalDataVault, mask_phone, normalise_phone

DEMO_STREET = "510113002000"
DEMO_COMMUNITY = "510113002001"


@dataclass(frozen=True)
class DemoAccount:
    """A demo sign-in with its freshly issued password."""

    role: str
    username: str
    password: str
    scope_name: str


# username, role, display name, scope area, unit code
DEMO_USERS: tuple[tuple[str, Role, str, str, str | None], ...] = (
    ("admin", Role.ADMIN, "系统管理员", DEMO_STREET, None),
    ("operator", Role.OPERATOR, "城运中心值班员", DEMO_STREET, "ops-center"),
    ("yihu", Role.OPERATOR, "怡湖社区值班员", DEMO_COMMUNITY, f"cc-{DEMO_COMMUNITY}"),
    ("handler", Role.HANDLER, "综合执法队员", DEMO_STREET, "dept-chengguan"),
    ("gridworker", Role.GRID_WORKER, "网格员", f"{DEMO_COMMUNITY}001", "grid-team"),
    ("resident", Role.RESIDENT, "居民", DEMO_COMMUNITY, None),
    ("auditor", Role.AUDITOR, "审计员", DEMO_STREET, None),
)


def ensure_demo(container: Container, *, seed: int = 2026,
                echo: Callable[[str], object] = print) -> list[DemoAccount]:
    """Generate the demo street once (idempotent), then issue new passwords for the demo accounts."""
    with container.sessions() as session:
        exists = session.get(AreaRow, DEMO_STREET) is not None
    if not exists:
        echo(f"generating the demo street (seed {seed}) …")
        district = build_demo_district(seed)
        with container.sessions.begin() as session:
            store_district(session, district, container)
        echo(_summary(district))
    _ensure_reference_data(container)
    _ensure_places(container, seed)
    _ensure_devices(container, seed, echo)
    return [_ensure_account(container, *spec) for spec in DEMO_USERS]


def _ensure_devices(container: Container, seed: int, echo: Callable[[str], object]) -> None:
    """The demo street's devices (detectors, meters, SOS buttons of elderly residents, hydrants …), once."""
    import numpy as np

    from chengyun.devices.demo import seed_demo_devices

    created = seed_demo_devices(container, np.random.default_rng(seed))
    if created:
        echo(f"{created} demo devices installed")


DEMO_DUTY_LIST = "routing/data/demo_duty_list.csv"


def _ensure_reference_data(container: Container) -> None:
    """The default category catalogue and the demo street's duty list, when none is stored yet."""
    container.categories.ensure_default(actor="demo")
    if not container.duty.rules():
        data = resources.files("chengyun").joinpath(DEMO_DUTY_LIST).read_bytes()
        container.duty.import_bytes(data, filename="demo_duty_list.csv", actor="demo")


def _ensure_places(container: Container, seed: int) -> None:
    """The demo street's roads and points of interest, derived from its stored areas and compounds, once."""
    if container.places.has_places():
        return
    with container.sessions() as session:
        rows = session.execute(select(AreaRow.code, AreaRow.name, AreaRow.geometry).where(
            AreaRow.parent_code == DEMO_STREET, AreaRow.level == "community").order_by(AreaRow.code)).all()
        street = session.get(AreaRow, DEMO_STREET)
        compounds = session.execute(select(CompoundRow.address, CompoundRow.lon, CompoundRow.lat)
                                    .order_by(CompoundRow.code)).all()
    if street is None or street.geometry is None:
        return
    communities = [Community(code, name, json.loads(geometry)) for code, name, geometry in rows if geometry]
    drafts = demo_places(communities, compounds, json.loads(street.geometry), seed)
    container.places.import_drafts(drafts, source="demo", actor="demo")


def store_district(session: Session, district: DemoDistrict, container: Container) -> None:
    """Write areas, units, people and places in the caller's transaction."""
    now = container.clock.now()
    AreaRepository(session).save_drafts(district.areas, now)
    unit_ids: dict[str, int] = {}
    for unit in district.units:
        row = UnitRow(code=unit.code, name=unit.name, kind=unit.kind.value, level=unit.level.value,
                      area_code=unit.area_code)
        session.add(row)
        session.flush()
        unit_ids[unit.code] = row.id
    session.add_all(_people_rows(district, unit_ids, container.vault))
    for compound in district.compounds:
        session.add(CompoundRow(code=compound.code, name=compound.name, area_code=compound.area_code,
                                address=compound.address, lon=compound.lon, lat=compound.lat,
                                households=compound.households))
    session.flush()
    session.add_all(BuildingRow(code=b.code, compound_code=b.compound_code, number=b.number, lon=b.lon,
                                lat=b.lat, floors=b.floors, units=b.units, households=b.households)
                    for b in district.buildings)
    record(session, container.clock, action="demo.generate", actor="demo", target=f"area:{DEMO_STREET}",
           areas=len(district.areas), people=len(district.people))


def _people_rows(district: DemoDistrict, unit_ids: dict[str, int], vault: PersonalDataVault) -> list[PersonRow]:
    rows = []
    for person in district.people:
        phone = normalise_phone(person.phone)
        rows.append(PersonRow(
            name=person.name, kind=person.kind.value,
            wuwei_role=person.wuwei_role.value if person.wuwei_role else None,
            unit_id=unit_ids.get(person.unit_code) if person.unit_code else None, area_code=person.area_code,
            phone_hash=vault.match_hash(phone), phone_encrypted=vault.encrypt(phone),
            phone_masked=mask_phone(phone),
        ))
    return rows


def _ensure_account(container: Container, username: str, role: Role, display: str, scope: str,
                    unit_code: str | None) -> DemoAccount:
    with container.sessions() as session:
        exists = session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None
        unit_id = session.scalar(select(UnitRow.id).where(UnitRow.code == unit_code)) if unit_code else None
        scope_name = session.scalar(select(AreaRow.name).where(AreaRow.code == scope)) or scope
    if exists:
        password = container.auth.set_password(username, actor="demo")
    else:
        _, password = container.auth.create_user(username=username, display_name=display, role=role,
                                                 scope_code=scope, unit_id=unit_id, actor="demo")
    return DemoAccount(role.value, username, password, scope_name)


def _summary(district: DemoDistrict) -> str:
    levels: dict[str, int] = {}
    for area in district.areas:
        levels[area.level.value] = levels.get(area.level.value, 0) + 1
    kinds: dict[str, int] = {}
    for person in district.people:
        kinds[person.kind.value] = kinds.get(person.kind.value, 0) + 1
    return (f"  areas {levels}\n  people {kinds}\n  units {len(district.units)}, "
            f"compounds {len(district.compounds)}, buildings {len(district.buildings)}")
