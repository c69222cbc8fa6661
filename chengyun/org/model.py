"""Units and people of a district: departments, committees, property companies, the grid team."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    """What kind of body a unit is."""

    OPERATIONS_CENTER = "operations_center"  # 城运中心
    STREET_OFFICE = "street_office"  # 街道办事处内设机构
    DEPARTMENT = "department"  # 职能部门 (城管, 住建, 派出所 …)
    COMMUNITY_COMMITTEE = "community_committee"  # 社区居委会
    PROPERTY_COMPANY = "property_company"  # 物业公司
    GRID_TEAM = "grid_team"  # 网格队伍


@dataclass(frozen=True, slots=True)
class UnitPlace:
    """A unit's kind and the path of the area it answers for (`/510113/…/`)."""

    kind: str
    area_path: str


class PersonKind(StrEnum):
    """The part a person plays in grassroots governance."""

    OPERATOR = "operator"  # 城运中心值班员
    HANDLER = "handler"  # 职能部门/社区处置人员
    GRID_WORKER = "grid_worker"  # 专职网格员
    MICROGRID_WORKER = "microgrid_worker"  # 微网格员
    VOLUNTEER = "volunteer"  # 志愿者


class WuweiRole(StrEnum):
    """五微长: the five roles a microgrid worker may hold."""

    COURTYARD_HEAD = "courtyard_head"  # 微院长
    TEAM_HEAD = "team_head"  # 微队长
    RIVER_HEAD = "river_head"  # 微河长
    STREET_HEAD = "street_head"  # 微街长
    WHISTLE_HEAD = "whistle_head"  # 微哨长


WUWEI_LABEL_ZH = {
    WuweiRole.COURTYARD_HEAD: "微院长",
    WuweiRole.TEAM_HEAD: "微队长",
    WuweiRole.RIVER_HEAD: "微河长",
    WuweiRole.STREET_HEAD: "微街长",
    WuweiRole.WHISTLE_HEAD: "微哨长",
}
