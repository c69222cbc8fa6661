"""A linkage test world on the tiny district: units, staff, a family, channel data, a fake notifier, a fixed clock."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from chengyun.adapters.notify import DeliveryResult, Message, Notifier, Recipient
from chengyun.adapters.notify_hub import LiveHub
from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Principal, Role
from chengyun.auth.tables import UserRow
from chengyun.bootstrap import Container
from chengyun.linkage.channels import ChannelBook, load_channels
from chengyun.linkage.directory import SqlDirectory
from chengyun.linkage.model import AlarmFacts, Contact, default_plans
from chengyun.linkage.policy import token_key
from chengyun.linkage.service import LinkageService
from chengyun.org.tables import UnitRow
from chengyun.shared.clock import FixedClock
from tests.conftest import SECRET

PASSWORD = "correct-horse-battery"
GRID = "510113002001001"  # 怡湖社区第1网格
FAMILY = [Contact("李女士", "13812345678", None, "女儿")]
CHANNELS = """
ack_base_url: https://cy.example.cn
default:
  liaisons:
    fire: [{channel: wecom, address: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=FIRE", label: 消防站群}]
    gas: [{channel: dingtalk, address: "https://oapi.dingtalk.com/robot/send?access_token=GAS", secret: SECgas,
           label: 燃气公司群, mention: ["13900000001"]}]
    police: [{channel: sms, address: "028-0000-0110", label: 派出所}]
  groups:
    street: [{channel: sms, address: "13700000002", label: 街道值班领导}]
    district: [{channel: email, address: duty@qbj.example.cn, label: 区应急值班室}]
"""


@dataclass
class FakeNotifier(Notifier):
    """Records every send; `script[channel]` holds results to return first (then success)."""

    sent: list[tuple[Message, Recipient]] = field(default_factory=list)
    script: dict[str, deque[DeliveryResult]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__({})

    def send(self, message: Message, recipient: Recipient) -> DeliveryResult:
        self.sent.append((message, recipient))
        queue = self.script.get(recipient.channel)
        if queue:
            return queue.popleft()
        return DeliveryResult(True, 200, sink=recipient.channel == "sms")


@dataclass
class World:
    """The service under test and what surrounds it."""

    container: Container
    service: LinkageService
    clock: FixedClock
    notifier: FakeNotifier
    hub: LiveHub
    who: dict[str, Principal]
    ids: dict[str, int]
    grid_path: str

    def alarm(self, alarm_id: int = 1, alarm_type: str = "gas_leak", area: str = GRID) -> AlarmFacts:
        """An alarm of a device in the given area."""
        with self.container.sessions() as session:
            path = session.scalar(select(AreaRow.path).where(AreaRow.code == area)) or ""
        return AlarmFacts(alarm_id, alarm_type, "critical", f"dev-{alarm_id}", self.clock.now(), area, path,
                          "怡湖苑3栋2单元301", None, "燃气浓度 25%LEL ≥ 20%LEL")

    def later(self, minutes: float) -> None:
        """Move the clock."""
        self.clock.advance(timedelta(minutes=minutes))


USERS = [  # username, role, scope, unit code
    ("u-op", Role.OPERATOR, "510113002000", "ops"),
    ("u-yihu", Role.OPERATOR, "510113002001", "cc-yihu"),
    ("u-street", Role.HANDLER, "510113002000", "office"),
    ("u-qu", Role.OPERATOR, "510113000000", "qu-ops"),
    ("u-gw", Role.GRID_WORKER, GRID, None),
    ("u-gw2", Role.GRID_WORKER, "510113002001", None),  # the community's grid leader: not the nearest
    ("u-gwx", Role.GRID_WORKER, "510113002002001", None),  # another community
    ("u-res", Role.RESIDENT, "510113002001", None),
    ("u-audit", Role.AUDITOR, "510113002000", None),
]
UNITS = [("ops", "大弯街道城运中心", "operations_center", "street", "510113002000"),
         ("cc-yihu", "怡湖社区居委会", "community_committee", "community", "510113002001"),
         ("office", "大弯街道平安办", "street_office", "street", "510113002000"),
         ("qu-ops", "青白江区城运中心", "operations_center", "district", "510113000000")]


def make_world(container: Container, *, channels: ChannelBook | None = None, notifier: Notifier | None = None,
               logins: tuple[str, ...] = ()) -> World:
    """Store units and staff in the tiny district and build the service on a fixed clock."""
    with container.sessions.begin() as session:
        session.add_all([UnitRow(code=c, name=n, kind=k, level=lv, area_code=a) for c, n, k, lv, a in UNITS])
    with container.sessions() as session:
        unit_ids = {u.code: u.id for u in session.scalars(select(UnitRow))}
    ids = {}
    for username, role, scope, unit in USERS:
        name, unit_id = username.removeprefix("u-"), unit_ids[unit] if unit else None
        if username in logins:  # a password costs an argon2 hash: only for the accounts that sign in
            row, _ = container.auth.create_user(username=username, display_name=name, role=role, scope_code=scope,
                                                password=PASSWORD, unit_id=unit_id)
            ids[username] = row.id
            continue
        with container.sessions.begin() as session:
            user = UserRow(username=username, display_name=name, role=role.value, scope_code=scope, unit_id=unit_id,
                           is_active=True, created_at=container.clock.now())
            session.add(user)
            session.flush()
            ids[username] = user.id
    clock, hub = FixedClock(), LiveHub()
    fake = FakeNotifier()
    service = LinkageService(container.sessions, clock, container.vault, default_plans(),
                             channels or load_channels(CHANNELS), SqlDirectory(container.engine), notifier or fake,
                             hub, token_key(SECRET), contacts=lambda d: FAMILY if d.startswith("dev-") else [])
    container.linkage = service  # the web layer and the IoT jobs use the world's service (fixed clock, fakes)
    who = {u: container.auth.principal(u) for u, *_ in USERS}
    with container.sessions() as session:
        grid_path = session.scalar(select(AreaRow.path).where(AreaRow.code == GRID)) or ""
    return World(container, service, clock, fake, hub, who, ids, grid_path)
