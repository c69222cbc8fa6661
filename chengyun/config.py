"""Settings read from the environment (prefix CHENGYUN_) at startup, never at import."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chengyun.errors import Invalid

KNOWN_WEAK_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development", "chengyun"})
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    """Process-wide settings; build one with `load_settings()` in the composition root."""

    model_config = SettingsConfigDict(env_prefix="CHENGYUN_", env_file=None, extra="ignore")

    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = Field(default="", repr=False)
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=32)  # web server processes (SQLite: they queue on the write gate)
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    session_max_age_s: int = Field(default=12 * 3600, ge=60)
    sweep_interval_s: int = Field(default=300, ge=0)  # 0: no deadline sweep inside `serve`
    sweep_escalate_after_h: int = Field(default=24, ge=0)  # hours overdue before automatic escalation; 0: never
    # attachments: on disk under data_dir (empty) or in an S3-compatible bucket, "s3://bucket/prefix"
    attachment_store: str = ""
    s3_endpoint: str = ""  # host:port of the S3-compatible service
    s3_access_key: str = Field(default="", repr=False)
    s3_secret_key: str = Field(default="", repr=False)
    s3_secure: bool = True  # HTTPS
    s3_region: str | None = None
    ai_alert_types: Path | None = None  # a street's own AI alert types (JSON); the packaged defaults when unset
    device_types: Path | None = None  # a street's own device types (JSON/YAML); the packaged defaults when unset
    mqtt_url: str = ""  # MQTT broker of device telemetry, e.g. mqtt://127.0.0.1:1883 (empty: no broker, in-process)
    # the resident page 群众上报: anonymous reports land in this area (empty: the one street-level root area)
    public_area_code: str = ""
    public_burst: int = Field(default=20, ge=0)  # anonymous requests (reports, photos, ratings) at once per client
    public_per_hour: float = Field(default=60, ge=0)  # … and regains per hour
    triage_min_confidence: float = Field(default=0.6, ge=0, le=1)  # below it the operator picks from 3 suggestions
    # linked response (联动): a street's own plans (YAML) and channel endpoints per area (YAML/JSON); packaged
    # defaults when unset (every liaison on the SMS logging sink: nothing is sent)
    linkage_plans: Path | None = None
    linkage_channels: Path | None = None
    # the big screen's optional base map: XYZ tiles in Web Mercator on WGS84/CGCS2000 coordinates (e.g. a city's own
    # tile server or 天地图), "https://tiles.example.gov.cn/{z}/{x}/{y}.png"; empty: the area polygons alone (offline)
    screen_tile_url: str = ""
    screen_tile_attribution: str = ""  # shown in the map's corner, as most tile licences require
    screen_tile_max_zoom: int = Field(default=18, ge=1, le=22)

    @field_validator("screen_tile_url")
    @classmethod
    def _tile_template(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith(("https://", "http://", "/"))
                      or not all(part in value for part in ("{z}", "{x}", "{y}"))):
            raise ValueError("screen_tile_url must be an http(s) or site-relative URL with {z}, {x} and {y}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def is_dev(self) -> bool:
        """Dev mode tolerates a generated secret; prod refuses to start without a strong one."""
        return self.env == "dev"

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'chengyun.db').resolve()}"

    @property
    def tz(self) -> ZoneInfo:
        """The display time zone (storage is always UTC)."""
        return ZoneInfo(self.timezone)


def ensure_secret(settings: Settings) -> Settings:
    """Refuse a weak secret outside dev; in dev, persist a generated one in the data directory."""
    secret = settings.secret_key.strip()
    weak = secret.lower() in KNOWN_WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH
    if not weak:
        return settings
    if not settings.is_dev:
        raise Invalid("config.weak_secret", min_length=MIN_SECRET_LENGTH)
    key_file = settings.data_dir / "secret_key"
    if key_file.exists():
        secret = key_file.read_text(encoding="utf-8").strip()
    if len(secret) < MIN_SECRET_LENGTH or secret.lower() in KNOWN_WEAK_SECRETS:
        secret = secrets.token_urlsafe(48)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secret, encoding="utf-8")
        key_file.chmod(0o600)
    return settings.model_copy(update={"secret_key": secret})


def load_settings(**overrides: object) -> Settings:
    """Read the environment now (at startup) and apply explicit overrides, e.g. from CLI options."""
    return ensure_secret(Settings(**overrides))  # type: ignore[arg-type]
