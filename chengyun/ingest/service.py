"""Wiring ingestion to the other domains: the device directory and payload reader, the rule engine, the alarm
service as the transition sink, the device service for last-seen times, and the quarantine store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.rules import default_rules
from chengyun.alarms.signals import Transition
from chengyun.devices.payload import read_message
from chengyun.ingest.model import WINDOW_SIZE
from chengyun.ingest.pipeline import Engine, Pipeline, TransitionSink
from chengyun.ingest.repository import QuarantineStore
from chengyun.ingest.simulator import SimDevice
from chengyun.iot import restore_engine

if TYPE_CHECKING:
    from chengyun.bootstrap import Container


def default_engine(container: Container) -> RuleEngine:
    """The rule engine with the packaged default rules in the configured time zone."""
    return RuleEngine(default_rules(), tz=container.settings.timezone)


def alarm_sink(container: Container) -> TransitionSink:
    """Transitions stored by the alarm service in one transaction per batch (places from the device directory),
    then the linkage plans started or closed and the cases opened (the container's responder)."""

    def apply(transitions: list[Transition]) -> None:
        container.responder(transitions)

    return apply


def make_pipeline(container: Container, *, worker_id: str = "w1", engine: Engine | None = None,
                  sink: TransitionSink | None = None, window: int = WINDOW_SIZE) -> Pipeline:
    """A pipeline over the container's devices and alarms; `engine` and `sink` replace the defaults (the
    composition root passes a sink that also starts the linkage plans)."""
    if engine is None:
        engine = default_engine(container)
        restore_engine(container, engine)  # devices' clocks from their last-seen times; active alarms can clear
    return Pipeline(container.devices.directory(), read_message, engine,
                    sink or alarm_sink(container), mark_seen=container.devices.mark_seen,
                    quarantine=QuarantineStore(container.engine).add, worker_id=worker_id, window=window)


def demo_sim_devices(container: Container, limit: int | None = None) -> list[SimDevice]:
    """The demo street's stored devices (source `demo`, active) with their derived tokens, by id."""
    from sqlalchemy import select

    from chengyun.devices.demo import DEMO_SOURCE, demo_token
    from chengyun.devices.tables import DeviceRow

    query = (select(DeviceRow.device_id, DeviceRow.type_code)
             .where(DeviceRow.source == DEMO_SOURCE, DeviceRow.active.is_(True)).order_by(DeviceRow.device_id))
    if limit is not None:
        query = query.limit(limit)
    secret = container.settings.secret_key
    with container.engine.connect() as conn:
        return [SimDevice(d, t, demo_token(secret, d)) for d, t in conn.execute(query)]
