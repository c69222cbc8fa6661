"""The one composition root: builds storage, services and adapters from settings, at startup."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from chengyun.adapters.s3 import s3_store
from chengyun.adapters.storage import FileStore
from chengyun.alarms.service import AlarmService
from chengyun.areas.service import AreaService
from chengyun.audit import AuditLog
from chengyun.auth.service import AuthService
from chengyun.cases.attachments import AttachmentStore
from chengyun.cases.calendar import WorkingCalendar
from chengyun.cases.deadlines import DeadlinePolicy
from chengyun.cases.jobs import SweepPolicy, SweepReport, sweep
from chengyun.cases.live_policies import LivePolicies
from chengyun.cases.rollup import RefreshReport, refresh
from chengyun.cases.service import CaseService
from chengyun.categories.service import CategoryService
from chengyun.config import Settings
from chengyun.db.engine import make_engine, make_session_factory
from chengyun.db.migrate import current_revision, upgrade
from chengyun.devices.service import DeviceService
from chengyun.ingest.gateway import Gateway
from chengyun.intake.geocoding import GazetteerGeocoder
from chengyun.intake.service import IntakeService
from chengyun.intake.webhooks import WebhookService
from chengyun.iot import AlarmResponder, device_point, linkage_listener, run_iot_jobs
from chengyun.linkage.service import LinkageService
from chengyun.linkage.wiring import build_linkage, devices_contacts
from chengyun.org.service import OrgService
from chengyun.patrol.service import PatrolService
from chengyun.places.service import PlaceService
from chengyun.routing.service import DutyService
from chengyun.screen.live import LiveFeed
from chengyun.screen.service import ScreenService
from chengyun.shared.clock import Clock, SystemClock
from chengyun.shared.privacy import PersonalDataVault
from chengyun.triage.artefacts import ModelStore
from chengyun.triage.duplicates_service import DuplicateFinder
from chengyun.triage.hot_service import HotService
from chengyun.triage.service import TriageService
from chengyun.triage.units_history import HistoryCache
from chengyun.triage.units_service import UnitAdvisor


@dataclass
class Container:
    """Everything a process needs, wired once."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    vault: PersonalDataVault
    audit: AuditLog
    areas: AreaService
    auth: AuthService
    org: OrgService
    categories: CategoryService
    duty: DutyService
    cases: CaseService
    deadlines: DeadlinePolicy
    attachments: AttachmentStore
    intake: IntakeService
    places: PlaceService
    webhooks: WebhookService
    patrol: PatrolService
    triage: TriageService
    unit_advisor: UnitAdvisor
    duplicates: DuplicateFinder
    hot: HotService
    screen: ScreenService = field(init=False)  # the big screen (一屏全观), built from the services here
    live: LiveFeed = field(init=False)  # the screen's per-process live feed (polls new cases and steps)
    alarms: AlarmService
    devices: DeviceService
    linkage: LinkageService = field(init=False)  # linkage plans (联动预案) and their notifications
    responder: AlarmResponder = field(init=False)  # the IoT sink: alarms stored, then linkage and cases

    def __post_init__(self) -> None:
        self.screen = ScreenService(self.sessions, self.clock, self.areas, self.hot, self.settings.tz)
        self.live = LiveFeed(self.sessions, self.clock.now)
        self.linkage = build_linkage(self, contacts=devices_contacts(self.devices.contacts_of))
        self.responder = AlarmResponder(self)
        self.alarms.device_point = self.alarms.linker.device_point = device_point(self.engine)
        self.alarms.listeners.append(linkage_listener(self))
        self._gateway: Gateway | None = None
        self._gateway_lock = threading.Lock()

    def ingest_gateway(self) -> Gateway:
        """This process's HTTP/in-process ingest gateway (built once: its rule engine keeps device state)."""
        with self._gateway_lock:
            if self._gateway is None:
                from chengyun.ingest.api import build_gateway

                self._gateway = build_gateway(self)
            return self._gateway

    def run_iot_jobs(self) -> None:
        """The IoT ticker: the in-process engine's deadlines (no broker), plans to start, escalations, deliveries,
        cases still to open, devices gone offline."""
        if not self.settings.mqtt_url:
            self.ingest_gateway().tick(self.clock.now().timestamp())
        run_iot_jobs(self)

    def run_sweep(self) -> SweepReport:
        """One deadline sweep with the configured policy."""
        policy = SweepPolicy(escalate_after_overdue_h=self.settings.sweep_escalate_after_h)
        return sweep(self.cases, self.deadlines, self.clock.now(), policy)

    def refresh_kpis(self, *, full: bool = False) -> RefreshReport:
        """Bring the daily KPI rollup up to date (only the days whose cases changed, unless `full`)."""
        now = self.clock.now()
        offset = now.astimezone(self.settings.tz).utcoffset() or timedelta()
        with self.sessions.begin() as session:
            return refresh(session, now, int(offset.total_seconds() // 60), full=full)

    def run_jobs(self) -> tuple[SweepReport, RefreshReport]:
        """What the scheduler runs each tick: intake retries, the deadline sweep, the KPI rollup, then webhooks."""
        self.intake.process_due()
        self.alarms.open_cases_due()  # alarms' cases through intake, and their acks and clears into the timelines
        swept, rolled_up = self.run_sweep(), self.refresh_kpis()
        self.webhooks.enqueue_changes()  # after the sweep, so its urges and escalations go out in the same tick
        self.webhooks.deliver_due()
        return swept, rolled_up

    def warm_up(self) -> None:
        """Build the in-memory indexes (area raster, catalogue, gazetteer, recent cases for duplicates) before the
        first request needs them."""
        index = self.areas.index()
        if index.polygon_count:
            index.raster()
        self.categories.catalogue()
        self.places.gazetteer()
        self.duplicates.warm()

    def database_ok(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not healthy"
            return False
        return True

    def migrate(self) -> None:
        """Apply pending migrations."""
        upgrade(self.engine)

    def schema_revision(self) -> str | None:
        """The applied migration revision, or None on an empty database."""
        return current_revision(self.engine)


def attachment_store(settings: Settings) -> AttachmentStore:
    """Photos on disk in the data directory, or in the configured S3-compatible bucket."""
    if not settings.attachment_store:
        return FileStore(settings.data_dir / "attachments")
    return s3_store(settings.s3_endpoint, settings.attachment_store, settings.s3_access_key,
                    settings.s3_secret_key, secure=settings.s3_secure, region=settings.s3_region)


def bootstrap(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Container:
    """Wire the application; connects to nothing until first use."""
    engine = engine or make_engine(settings.resolved_database_url)
    sessions = make_session_factory(engine)
    clock = clock or SystemClock()
    audit = AuditLog(sessions, clock)
    vault = PersonalDataVault(settings.secret_key)
    areas = AreaService(sessions, clock, audit)
    categories = CategoryService(sessions, clock, audit)
    duty = DutyService(sessions, clock)
    deadlines = DeadlinePolicy(WorkingCalendar.build(timezone=settings.timezone))
    policies = LivePolicies(categories, duty, deadlines)
    cases = CaseService(sessions, clock, vault, audit, areas, policies, timezone=settings.timezone)
    places = PlaceService(sessions, clock, audit, areas)
    triage = TriageService(ModelStore(settings.data_dir / "models" / "triage"),
                           min_confidence=settings.triage_min_confidence, now=clock.now)
    intake = IntakeService(sessions, clock, vault, areas, cases, GazetteerGeocoder(places), triage,
                           categories.catalogue)
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        vault=vault,
        audit=audit,
        areas=areas,
        auth=AuthService(sessions, clock, audit, timedelta(seconds=settings.session_max_age_s)),
        org=OrgService(sessions, clock, audit, vault),
        categories=categories,
        duty=duty,
        cases=cases,
        deadlines=deadlines,
        attachments=attachment_store(settings),
        intake=intake,
        places=places,
        webhooks=WebhookService(sessions, clock, vault, audit, timezone=settings.timezone),
        patrol=PatrolService(sessions, clock, areas),
        triage=triage,
        unit_advisor=UnitAdvisor(cases, categories, duty, areas, HistoryCache(engine, clock.now)),
        duplicates=DuplicateFinder(engine, clock.now),
        hot=HotService(engine, clock.now),
        alarms=AlarmService(sessions, clock, audit, areas, intake, cases, timezone=settings.timezone),
        devices=DeviceService(sessions, clock, audit, vault, areas, places, settings.secret_key,
                              settings.device_types),
    )
