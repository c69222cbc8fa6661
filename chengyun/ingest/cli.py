"""`chengyun ingest run|quarantine` (the MQTT ingest worker and what it refused) and `chengyun simulate devices`."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer

from chengyun.cli_support import friendly, migrated_container, say
from chengyun.errors import Invalid

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"

app = typer.Typer(help="Device message ingestion (设备接入): the MQTT worker and its quarantine.", no_args_is_help=True)
simulate_app = typer.Typer(help="Simulated devices (设备模拟).", no_args_is_help=True)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def parse_partition(value: str | None) -> tuple[int, int] | None:
    """`k/n` → (k, n) with 0 ≤ k < n; None for none."""
    if not value:
        return None
    try:
        k, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise Invalid("cli.ingest.bad_partition", value=value) from None
    if not 0 <= k < n:
        raise Invalid("cli.ingest.bad_partition", value=value)
    return k, n


@app.command("run")
@friendly
def run_worker(
    broker: Annotated[str, typer.Option(help="mqtt://host:port (default: CHENGYUN_MQTT_URL, else local)")] = "",
    group: Annotated[str, typer.Option(help="Shared-subscription group: workers of one group share the load")]
    = "chengyun",
    worker_id: Annotated[str, typer.Option("--worker-id", help="This worker's name (client id, counters)")] = "w1",
    partition: Annotated[str, typer.Option(help="k/n: only devices of partition k (plain subscription, device "
                                                "affinity for stateful rules) instead of the shared group")] = "",
    queue_size: Annotated[int, typer.Option(help="Messages held between network and processing; beyond: shed")]
    = 20_000,
) -> None:
    """Consume device messages from the broker into the rule engine until Ctrl+C or SIGTERM."""
    from chengyun.workers.mqtt_ingest import WorkerOptions, run_ingest

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    container = migrated_container()
    url = broker or container.settings.mqtt_url or DEFAULT_BROKER
    parts = parse_partition(partition)
    options = WorkerOptions(url, worker_id, group=group or None, partition=parts, queue_size=queue_size)
    stop = _stop_on_signals()
    topic = f"chengyun/+/+/+ ({partition})" if parts else f"$share/{group}/chengyun/+/+/+"
    counters = run_ingest(container, options, stop, ready=lambda: typer.echo(
        say("cli.ingest.running", worker_id=worker_id, broker=url, topic=topic), err=True))
    typer.echo(say("cli.ingest.stopped", worker_id=worker_id, accepted=counters.accepted,
                   duplicate=counters.duplicate, quarantined=counters.total_quarantined, shed=counters.shed,
                   transitions=counters.transitions))


@app.command("quarantine")
@friendly
def quarantine(
    limit: Annotated[int, typer.Option(help="How many of the latest refused messages to list")] = 20,
    reason: Annotated[str, typer.Option(help="Only this reason code")] = "",
    device: Annotated[str, typer.Option(help="Only this device id")] = "",
    prune_days: Annotated[int, typer.Option(help="First delete refused messages older than this many days")] = 0,
) -> None:
    """Refused messages: counts per reason, each worker's counters, and the latest messages."""
    from chengyun.ingest.repository import QuarantineStore

    container = migrated_container()
    store = QuarantineStore(container.engine)
    if prune_days > 0:
        pruned = store.prune(container.clock.now() - timedelta(days=prune_days))
        typer.echo(say("cli.ingest.pruned", count=pruned, days=prune_days))
    counts = store.counts()
    tz = container.settings.tz
    if counts:
        typer.echo(say("cli.ingest.counts"))
        for code, n in counts.items():
            typer.echo(f"  {n:>8}  {code}")
    workers = store.workers()
    if workers:
        typer.echo(say("cli.ingest.workers"))
        for w in workers:
            c = w.counters
            typer.echo(f"  {w.worker_id}  {_local(w.updated_at, tz)}  accepted={c.accepted} duplicate={c.duplicate}"
                       f" quarantined={c.total_quarantined} shed={c.shed} transitions={c.transitions}")
    rows = store.recent(limit=limit, reason=reason or None, device_id=device or None)
    if not rows:
        typer.echo(say("cli.ingest.none"))
    for row in rows:
        head = row.payload[:120].decode(errors="backslashreplace")
        typer.echo(f"#{row.id} {_local(row.received_at, tz)} {row.worker_id} [{row.reason}] {row.topic}"
                   f" ({row.size} B)\n    {say(row.reason, **row.params)}\n    {head}")


def _local(moment: datetime, tz: Any) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


@simulate_app.command("devices")
@friendly
def simulate_devices(
    count: Annotated[int, typer.Option(help="How many devices to simulate")] = 100,
    rate: Annotated[float, typer.Option(help="Messages per second, all devices together")] = 50.0,
    broker: Annotated[str, typer.Option(help="mqtt://host:port, or http://host:port of a running Chengyun (its"
                                             " HTTP ingest); empty: CHENGYUN_MQTT_URL, else in-process")] = "",
    scenario: Annotated[str, typer.Option(help="gas_leak|smoke|elderly_inactivity|sos|hydrant_low_pressure|"
                                               "water_intrusion|ebike_hot_spot|offline")] = "",
    device: Annotated[str, typer.Option(help="The device of the scenario (default: a random fitting one)")] = "",
    random_scenarios: Annotated[bool, typer.Option(help="Inject random scenarios (about 2 a minute)")] = False,
    duration: Annotated[float, typer.Option(help="Stop after this many seconds (0: until Ctrl+C)")] = 0.0,
    synthetic: Annotated[bool, typer.Option(help="sim-000001… devices instead of the demo street's (benchmarks:"
                                                 " a worker refuses them unless they are registered)")] = False,
) -> None:
    """Publish realistic telemetry for the demo street's devices (or synthetic ones) and inject scenarios."""
    from chengyun.ingest.simulator import Simulator, parse_scenario, run

    if count < 1 or rate <= 0:
        raise Invalid("simulate.bad_option", option="--count/--rate", value=f"{count}/{rate}")
    chosen = parse_scenario(scenario) if scenario else None
    container = migrated_container()
    devices = _devices(container, count, synthetic=synthetic)
    simulator = Simulator(devices)
    url = broker or container.settings.mqtt_url
    publisher, target = _publisher(container, url)
    stop = _stop_on_signals()
    typer.echo(say("cli.simulate.started", count=len(devices), rate=rate, target=target))
    if chosen is not None:
        picked = simulator.inject(chosen, time.time(), device or None)
        _said(time.time(), chosen.value, picked.device_id)
    report = run(simulator, publisher, rate=rate, stop=stop, duration_s=duration or None,
                 random_scenarios_per_min=2.0 if random_scenarios else 0.0,
                 on_scenario=lambda at, s, d: _said(at, s.value, d.device_id))
    close = getattr(publisher, "close", None)
    if close is not None:
        close()
    typer.echo(say("cli.simulate.done", sent=report.sent, acked=getattr(publisher, "acked", report.sent)))


def _devices(container: Any, count: int, *, synthetic: bool) -> list[Any]:
    """The demo street's first `count` devices, or `count` synthetic ones (tokens derived from the secret)."""
    from chengyun.devices.demo import demo_token
    from chengyun.ingest.service import demo_sim_devices
    from chengyun.ingest.simulator import synthetic_devices

    if not synthetic:
        return demo_sim_devices(container, count)
    secret = container.settings.secret_key
    return synthetic_devices(count, lambda d: demo_token(secret, d))


def _said(at: float, scenario: str, device_id: str) -> None:
    typer.echo(say("cli.simulate.scenario", at=time.strftime("%H:%M:%S", time.localtime(at)), device_id=device_id,
                   scenario=scenario))


def _publisher(container: Any, url: str) -> tuple[Any, str]:
    if url.startswith(("http://", "https://")):
        from chengyun.ingest.simulator import HttpPublisher

        return HttpPublisher(url), url
    if url:
        from chengyun.adapters.mqtt_publish import MqttPublisher

        return MqttPublisher(url).connect(), url
    from chengyun.ingest.service import make_pipeline
    from chengyun.ingest.simulator import InProcessPublisher

    return InProcessPublisher(make_pipeline(container, worker_id="simulator")), "in-process"
