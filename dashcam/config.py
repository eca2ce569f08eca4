"""The configuration files of the deployment guide, read as they are.

``config.json`` (global) and ``devices/<hostname>.json`` (one per device) live in the config
directory (``/etc/dashcam-processor`` by default, ``DASHCAM_CONFIG_DIR`` to override). Every key
the guide shows is accepted verbatim; what the system needs beyond that is optional with a
documented default. Unknown keys are refused, and a wrong file yields one line per problem naming
the file and the JSON path, e.g. ``devices/jetson-coral-1.json: gpu.max_batch_size: must be >= 1, got 0``.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dashcam.settings import Settings, get_settings
from dashcam.vision.config import VisionConfig
from dashcam.vision.plate_text import DEFAULT_CONFUSIONS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


# ---------------------------------------------------------------- global config.json


class RetentionDays(_Strict):
    raw_videos: int = Field(90, ge=0, description="Days a raw clip is kept after it finished every stage.")
    preproc_data: int = Field(30, ge=0, description="Days preprocess manifests and scratch data are kept.")
    heavy_output: int = Field(
        7, ge=0, description="Days heavy-stage media stay in heavy_output/ (once archived)."
    )


class GlobalSection(_Strict):
    task_retry_delay_seconds: int = Field(
        300, ge=0, description="Delay before a failed stage run is retried (seconds)."
    )
    max_concurrent_tasks_per_device: int = Field(
        1, ge=1, description="Default number of stage runs one device works on at once."
    )
    storage_retention_days: RetentionDays = Field(
        default_factory=RetentionDays,  # type: ignore[arg-type]
        description="How long each storage area keeps its data.",
    )
    task_retries: int = Field(3, ge=0, description="How many times a failed stage run is retried.")
    chain_batch_size: int = Field(
        8,
        ge=1,
        description="Most clips one chained flow run of the next stage takes. Every flow run costs its worker a "
        "new process (seconds of CPU); 1 = one run per clip and stage.",
    )
    claim_lease_s: float = Field(
        120.0,
        ge=5,
        description="A running stage holds its clip this long between renewals; a worker that died "
        "(kill -9, power loss) loses its clip after this.",
    )


class IndoorNasPaths(_Strict):
    base: str = Field(
        "",
        description="Root of the indoor NAS share: an SMB share (//host/share/), a local path, or an fsspec URL. "
        "Empty: DASHCAM_DATA_DIR.",
    )
    raw: str = Field("raw/", description="Raw clips, relative to base (or absolute).")
    preproc: str = Field("preproc/", description="Preprocess manifests, relative to base (or absolute).")
    heavy_output: str = Field(
        "heavy_output/", description="Heavy-stage media, relative to base (or absolute)."
    )


class ShedNasPaths(_Strict):
    archive_base: str = Field(
        "",
        description="Root of the archive on the shed NAS (SMB share, local path or fsspec URL). "
        "Empty: DASHCAM_DATA_DIR/archive.",
    )


class StoragePaths(_Strict):
    indoor_nas: IndoorNasPaths = Field(
        default_factory=IndoorNasPaths,  # type: ignore[arg-type]
        description="Where raw, preproc and heavy_output live.",
    )
    shed_nas: ShedNasPaths = Field(
        default_factory=ShedNasPaths,  # type: ignore[arg-type]
        description="Where the archive lives.",
    )
    mounts: dict[str, str] = Field(
        default_factory=dict,
        description="Default mapping of SMB shares to local mount points, e.g. {'//nas-1/videos/': "
        "'/mnt/nas-1/videos'}; a device's storage.mounts overrides it.",
    )


class DatabaseSection(_Strict):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL of the results database. Prefer DASHCAM_DATABASE_URL or a Secret block "
        "for URLs holding a password. Default: SQLite under DASHCAM_DATA_DIR.",
    )


class EncryptionSection(_Strict):
    enabled: bool = Field(
        False,
        description="Encrypt at rest: the SQLite database (SQLCipher) and new archive objects (AES-256-GCM). On, "
        "a process without its keys refuses to start rather than write in the clear. A key set in the "
        "environment turns its part on by itself.",
    )
    db_key_file: str | None = Field(
        None,
        description="File holding the database key (mode 0600, one line); DASHCAM_DB_KEY wins over it.",
    )
    archive_key_file: str | None = Field(
        None,
        description="File holding the archive key (mode 0600, one line); DASHCAM_ARCHIVE_KEY wins over it.",
    )


class PrefectSection(_Strict):
    api_url: str | None = Field(
        None,
        description="Prefect server API (e.g. http://main-server:4200/api). None: ephemeral, in-process.",
    )
    ui_url: str | None = Field(None, description="Prefect UI address linked from the web UI's status page.")


class CameraSection(_Strict):
    address: str = Field(
        "http://192.168.1.254",
        description="The dashcam's HTTP address (AP mode default) or its station-mode IP.",
    )
    password_env: str = Field(
        "DASHCAM_CAMERA_PASSWORD",
        description="Environment variable holding the camera's password, if it has one (never stored here).",
    )
    credentials_block: str | None = Field(
        None, description="Name of a Prefect Secret block holding the camera's password (distributed mode)."
    )
    max_connections: int = Field(1, ge=1, le=4, description="Concurrent downloads (cameras reset above ~3).")
    timeout_s: float = Field(10.0, gt=0, description="Connect/read timeout per request (seconds).")
    protected_only: bool = Field(False, description="Only download protected (RO/event) clips.")
    delete_after_download: bool = Field(False, description="Delete a clip from the camera once verified.")
    order: Literal["oldest", "newest"] = Field("oldest", description="Which clips to download first.")
    poll_interval_s: int = Field(300, ge=10, description="How often the NAS looks for the camera (seconds).")


class NotifySection(_Strict):
    url: str | None = Field(
        None,
        description="Apprise URL that watchlist hits are sent to when the stages run on one machine (ntfy://, "
        "mailto://, json://, a Home Assistant webhook ...). It often holds a token: prefer url_env.",
    )
    url_env: str = Field(
        "DASHCAM_NOTIFY_URL",
        description="Environment variable holding the Apprise URL (wins over url).",
    )


class ImportSection(_Strict):
    stable_s: float = Field(
        2.0,
        ge=0,
        description="A file in a folder being imported is taken only once its size and time have not changed "
        "for this many seconds (a copy still being written waits, or is left for the next run).",
    )


class DetectionSection(_Strict):
    sample_fps: float = Field(
        2.0, gt=0, le=60, description="Frames per second the preprocess stage looks at."
    )
    max_sample_gap_s: float = Field(
        1.5,
        gt=0,
        description="Keyframes further apart than this are too sparse: sample at sample_fps instead.",
    )
    static_max_gap_s: float = Field(
        4.0,
        ge=0,
        description="While the scene stays still (parking mode, a long wait at lights), keyframes are looked "
        "at ever more rarely, at most this many seconds apart; a GOP whose packets show motion brings the "
        "looks back at once. 0: every keyframe.",
    )
    coarse_labels: list[str] = Field(
        default_factory=lambda: ["car", "truck", "bus", "motorcycle", "bicycle", "person"],
        description="Labels that make a moment worth heavy processing.",
    )
    coarse_conf: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Minimum score of a coarse detection (low: this pass is a filter, recall first).",
    )
    vehicle_conf: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Score a detection needs to start a track; a track becomes a sighting once a detection "
        "this confident is part of it.",
    )
    vehicle_low_conf: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Weaker detections, down to this score, only keep a vehicle's track going through frames "
        "where the detector is unsure of it; the heavy stage's detector keeps boxes down to this score, "
        "whatever its own conf.",
    )
    lane_crop: bool = Field(
        True,
        description="The heavy stage's detector also looks at the lane ahead at twice the detail, in the room "
        "a wide frame leaves in its square input (distant vehicles; no extra inference).",
    )
    preprocess_lane_crop: bool = Field(
        True,
        description="A wide sample in which the preprocess stage finds nothing is looked at again with the lane "
        "ahead at twice the scale (one more inference, only for such samples): distant vehicles ahead, 30-40 "
        "px tall, otherwise go unseen and their moments are dropped.",
    )
    plate_conf: float = Field(0.25, ge=0, le=1, description="Minimum score of a plate box.")
    window_pad_s: float = Field(1.0, ge=0, description="Seconds added before and after each window.")
    window_bridge_s: float = Field(
        6.0,
        ge=0,
        description="The heavy stage looks at two windows less than this many seconds apart as one, gap "
        "included: the cheap pass loses a vehicle for a few seconds as the detector does, and the vehicle "
        "is most often still in view (one track, its boxes all the way, instead of two parts).",
    )
    motion_threshold: float = Field(
        0.02, ge=0, le=1, description="Fraction of changed pixels below which a sample is static."
    )
    heavy_fps: float = Field(10.0, gt=0, le=120, description="Frames per second the heavy stage decodes.")

    @model_validator(mode="after")
    def _vehicle_thresholds(self) -> DetectionSection:
        if self.vehicle_low_conf > self.vehicle_conf:
            raise ValueError(
                f"vehicle_low_conf ({self.vehicle_low_conf}) must not exceed vehicle_conf ({self.vehicle_conf})"
            )
        return self


class PlateFormat(_Strict):
    country: str = Field(description="Country or region code, e.g. 'GB', 'US-CA'.")
    pattern: str = Field(
        description="Regular expression of a valid normalised plate (A-Z0-9), e.g. '^[A-Z]{2}[0-9]{2}[A-Z]{3}$'."
    )


class PlatesSection(_Strict):
    min_length: int = Field(4, ge=1, description="Shorter reads are discarded.")
    max_length: int = Field(10, ge=1, description="Longer reads are discarded.")
    formats: list[PlateFormat] = Field(
        default_factory=list, description="Optional plate formats used to resolve confusable characters."
    )
    confusions: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CONFUSIONS),
        description="Characters OCR confuses, folded together for fuzzy search (letter -> digit).",
    )

    @model_validator(mode="after")
    def _lengths(self) -> PlatesSection:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length ({self.min_length}) must be <= max_length ({self.max_length})")
        return self


class WebUiSection(_Strict):
    host: str = Field(
        "127.0.0.1", description="Address the web UI and API bind to (put nginx in front for the LAN)."
    )
    port: int = Field(8000, ge=1, le=65535, description="Port of the web UI and API.")
    tile_url: str = Field(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tile URL template ({z}/{x}/{y}); point it at your own tile server, or 'none' for no tiles. "
        "DASHCAM_UI_TILE_URL overrides it.",
    )
    public_url: str | None = Field(
        None,
        description="Address people open the web UI at (e.g. https://dashcam.home.example): links to "
        "sightings in Prefect artifacts and notifications start with it. None: no links.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed, e.g. ['127.0.0.1'] behind the guide's nginx on the same host. Default: none, so no "
        "client chooses the address that is recorded and rate-limited, nor whether the request was TLS.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return v


class ArchiveSection(_Strict):
    web_copy_of_clip: bool = Field(
        False, description="Also archive a browser-playable copy of each whole clip."
    )
    quota_percent: float | None = Field(
        None,
        gt=0,
        le=100,
        description="Disk-quota mode: delete oldest-first when an area is fuller than this.",
    )
    quota_areas: dict[Literal["raw", "preproc", "heavy_output"], float] = Field(
        default_factory=dict,
        description="Per-area disk-quota thresholds in percent, overriding quota_percent, e.g. {'raw': 85}.",
    )

    @model_validator(mode="after")
    def _check_quota_areas(self) -> ArchiveSection:
        bad = {k: v for k, v in self.quota_areas.items() if not 0 < v <= 100}
        if bad:
            raise ValueError(f"quota_areas: thresholds must be in (0, 100], got {bad}")
        return self

    def quota_for(self, area: str) -> float | None:
        """The disk-quota threshold (percent) of an area, or None when quota mode is off for it."""
        return self.quota_areas.get(area, self.quota_percent)  # type: ignore[call-overload]


class LoggingSection(_Strict):
    format: Literal["text", "json"] = Field(
        "text",
        description="How every process (commands, workers, flow runs, web UI, heartbeat) writes its log lines: "
        "text for people, or json, one object per line (timestamp, level, device, flow_run_id, clip_id, "
        "logger, message) for a central log store.",
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = Field(
        None,
        description="Least level written. Default: WARNING for commands in text (-v: DEBUG), INFO in json; "
        "workers and flow runs follow PREFECT_LOGGING_LEVEL.",
    )
    syslog: str | None = Field(
        None,
        description="Also send every line to syslog: a unix socket path (e.g. /run/dashcam/log.sock, the "
        "local rsyslog of infra/logging/), or tcp://host:port or udp://host:port. None: stderr only.",
    )

    @field_validator("syslog")
    @classmethod
    def _target(cls, v: str | None) -> str | None:
        if v is None:
            return None
        from urllib.parse import urlsplit

        if v.startswith("/"):
            return v
        parts = urlsplit(v)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("tcp", "udp") or not parts.hostname or port is None or parts.path:
            raise ValueError(
                f"{v!r} is not a unix socket path (/run/dashcam/log.sock) nor tcp://host:port or udp://host:port"
            )
        return v


# ---------------------------------------------------------------- devices/<hostname>.json

DeviceType = Literal["main_server", "indoor_nas", "jetson_coral", "rtx_4090", "rtx_gpu", "shed_nas", "laptop"]


class DeviceStorage(_Strict):
    local_scratch: str | None = Field(
        None, description="Fast local folder for temporary files of this device."
    )
    max_concurrent_tasks: int = Field(1, ge=1, description="Stage runs this device works on at once.")
    mounts: dict[str, str] = Field(
        default_factory=dict,
        description="Where this device mounts each SMB share, e.g. {'//nas-1/videos/': 'Z:\\\\'}.",
    )


class CoralSection(_Strict):
    device_path: str | None = Field(
        None, description="The Coral USB device (/dev/bus/usb/001/003) or an Edge TPU selector ('usb:0')."
    )


class GpuSection(_Strict):
    device_id: int = Field(0, ge=0, description="CUDA device index.")
    max_batch_size: int = Field(1, ge=1, le=256, description="Frames (and plate crops) per inference batch.")
    allow_cpu_fallback: bool = Field(
        False,
        description="Run the ONNX models on the CPU, with a warning, when their session cannot get the GPU "
        "(false: that is an error, so a broken driver is noticed).",
    )
    yolo_model_path: str = Field("yolov8n.pt", description="Vehicle detector weights (path or file name).")
    ocr_model: str = Field("en", description="OCR language / model name.")


class DeviceConfig(_Strict):
    device_type: DeviceType | None = Field(None, description="What kind of device this is.")
    hostname: str | None = Field(None, description="The device's hostname (default: the file name).")
    storage: DeviceStorage = Field(
        default_factory=DeviceStorage,  # type: ignore[arg-type]
        description="Local storage and concurrency of this device.",
    )
    coral: CoralSection | None = Field(None, description="Coral Edge TPU settings (Jetson).")
    gpu: GpuSection | None = Field(None, description="GPU settings (RTX box).")
    work_pool: str | None = Field(None, description="Prefect work pool this device's worker pulls from.")


class GlobalConfig(_Strict):
    global_: GlobalSection = Field(
        default_factory=GlobalSection,  # type: ignore[arg-type]
        alias="global",
        description="Retries, concurrency and retention.",
    )
    devices: dict[str, DeviceConfig] = Field(
        default_factory=dict,
        description="Device configurations inline, by hostname (devices/*.json also count).",
    )
    storage_paths: StoragePaths = Field(
        default_factory=StoragePaths,  # type: ignore[arg-type]
        description="Where each storage area lives.",
    )
    notify: NotifySection = Field(
        default_factory=NotifySection,  # type: ignore[arg-type]
        description="Being told on one machine (a deployment uses a Prefect automation: `dashcam setup --notify-block`).",
    )
    import_: ImportSection = Field(
        default_factory=ImportSection,  # type: ignore[arg-type]
        alias="import",
        description="Importing clips from a folder.",
    )
    database: DatabaseSection = Field(default_factory=DatabaseSection, description="Results database.")  # type: ignore[arg-type]
    encryption: EncryptionSection = Field(
        default_factory=EncryptionSection,  # type: ignore[arg-type]
        description="Encryption at rest of the database and the archive (off by default).",
    )
    prefect: PrefectSection = Field(default_factory=PrefectSection, description="Prefect server.")  # type: ignore[arg-type]
    camera: CameraSection = Field(default_factory=CameraSection, description="The dashcam.")  # type: ignore[arg-type]
    detection: DetectionSection = Field(default_factory=DetectionSection, description="Detection.")  # type: ignore[arg-type]
    plates: PlatesSection = Field(default_factory=PlatesSection, description="Plate reading.")  # type: ignore[arg-type]
    webui: WebUiSection = Field(default_factory=WebUiSection, description="Web UI and API.")  # type: ignore[arg-type]
    archive: ArchiveSection = Field(default_factory=ArchiveSection, description="Archive.")  # type: ignore[arg-type]
    logging: LoggingSection = Field(
        default_factory=LoggingSection,  # type: ignore[arg-type]
        description="Log format, level and syslog target of every process.",
    )
    vision: VisionConfig = Field(
        default_factory=VisionConfig,
        description="Detector and OCR backends of each stage (device files' gpu/coral sections refine them).",
    )
    models_dir: str | None = Field(
        None, description="Folder searched for model weights (after DASHCAM_MODELS_DIR)."
    )
    model_sha256: dict[str, str] = Field(
        default_factory=dict,
        description="sha256 to pin, by model or file name, for a downloadable model this project has no "
        "published checksum for (`dashcam models pull` refuses such a download until it is pinned here).",
    )

    @field_validator("model_sha256")
    @classmethod
    def _sha256s(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        for name, digest in v.items():
            if not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                raise ValueError(f"model_sha256[{name!r}] is not a sha256 (64 hex digits)")
        return {k: d.lower() for k, d in v.items()}

    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True)


# ---------------------------------------------------------------- loading and errors


class ConfigError(ValueError):
    """One or more problems in the config directory; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _fmt_loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model whose fields live at ``loc`` (for 'did you mean' hints)."""
    current: Any = model
    for p in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = {(f.alias or n): f for n, f in current.model_fields.items()}
        if p in fields:
            ann = fields[p].annotation
            args = getattr(ann, "__args__", ())
            nxt = next((a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if nxt is None and args:  # dict[str, Model]
                nxt = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
            current = nxt
        elif isinstance(p, str) and current is not None:
            continue  # a dict key, e.g. devices.<hostname>
        else:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _message(err: dict[str, Any], model: type[BaseModel]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(model, tuple(err["loc"][:-1]))
        key = str(err["loc"][-1])
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(key, _known_keys(parent), n=1)
            hint = (
                f" (did you mean '{close[0]}'?)"
                if close
                else f" (known keys: {', '.join(_known_keys(parent))})"
            )
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit}, got {got!r}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer, got {got!r}"
    if kind in ("float_type", "float_parsing"):
        return f"must be a number, got {got!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {got!r}"
    if kind == "string_type":
        return f"must be a string, got {got!r}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be an object, got {got!r}"
    if kind == "list_type":
        return f"must be a list, got {got!r}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {got!r}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']}, got {got!r}"


def _validation_problems(file_label: str, exc: ValidationError, model: type[BaseModel]) -> list[str]:
    return [f"{file_label}: {_fmt_loc(tuple(e['loc']))}: {_message(e, model)}" for e in exc.errors()]


def _read_json(path: Path, label: str, problems: list[str]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{label}: cannot read: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError:
        problems.append(f"{label}: not UTF-8 text")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(f"{label}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        return None


@dataclass
class Config:
    """The validated configuration of one deployment, as seen from one device."""

    global_config: GlobalConfig
    devices: dict[str, DeviceConfig]
    source_dir: Path | None
    settings: Settings
    warnings: list[str] = field(default_factory=list)
    shared_mounts: dict[str, str] = field(default_factory=dict)  # from the deployment's storage block

    @property
    def embedded(self) -> bool:
        """True when no config directory exists: everything lives under DASHCAM_DATA_DIR."""
        return self.source_dir is None

    @property
    def device(self) -> DeviceConfig:
        """This device's configuration (DASHCAM_DEVICE or the hostname), or an empty default."""
        return self.devices.get(self.settings.device) or DeviceConfig(hostname=self.settings.device)

    def mounts(self) -> dict[str, str]:
        return {**self.shared_mounts, **self.global_config.storage_paths.mounts, **self.device.storage.mounts}

    def database_url(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        if self.global_config.database.url:
            return self.global_config.database.url
        return f"sqlite:///{self.settings.data_dir / 'dashcam.db'}"


def validate_dir(config_dir: Path, settings: Settings | None = None) -> Config:
    """Read and validate a config directory; raise :class:`ConfigError` listing every problem."""
    settings = settings or get_settings()
    problems: list[str] = []
    warnings: list[str] = []
    if not config_dir.is_dir():
        raise ConfigError([f"{config_dir}: config directory does not exist"])

    gpath = config_dir / "config.json"
    gconf = GlobalConfig()
    if not gpath.exists():
        problems.append("config.json: missing (the global configuration file is required)")
    else:
        raw = _read_json(gpath, "config.json", problems)
        if raw is not None:
            if not isinstance(raw, dict):
                problems.append(f"config.json: (top level): must be an object, got {type(raw).__name__}")
            else:
                try:
                    gconf = GlobalConfig.model_validate(raw)
                except ValidationError as exc:
                    problems += _validation_problems("config.json", exc, GlobalConfig)
                warnings += _secret_warnings(gpath, "config.json", raw)

    devices: dict[str, DeviceConfig] = dict(gconf.devices)
    ddir = config_dir / "devices"
    if ddir.is_dir():
        for dpath in sorted(ddir.iterdir()):
            label = f"devices/{dpath.name}"
            if dpath.suffix.lower() != ".json" or not dpath.is_file():
                if not dpath.name.startswith("."):
                    warnings.append(f"{label}: ignored (not a .json file)")
                continue
            raw = _read_json(dpath, label, problems)
            if raw is None:
                continue
            if not isinstance(raw, dict):
                problems.append(f"{label}: (top level): must be an object, got {type(raw).__name__}")
                continue
            try:
                dev = DeviceConfig.model_validate(raw)
            except ValidationError as exc:
                problems += _validation_problems(label, exc, DeviceConfig)
                continue
            name = dev.hostname or dpath.stem
            if dev.hostname and dev.hostname != dpath.stem:
                warnings.append(
                    f"{label}: hostname '{dev.hostname}' differs from the file name; using the hostname"
                )
            if name in devices:
                problems.append(f"{label}: device '{name}' is defined twice")
            devices[name] = dev
            warnings += _secret_warnings(dpath, label, raw)
    if problems:
        raise ConfigError(problems)
    return Config(gconf, devices, config_dir, settings, warnings)


_SECRET_HINTS = ("password", "secret", "token", "api_key", "apikey")


def _has_secret(obj: Any) -> bool:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if (
                any(h in str(k).lower() for h in _SECRET_HINTS)
                and isinstance(v, str)
                and v
                and not str(k).lower().endswith(("_env", "_block"))
            ):
                return True
            if _has_secret(v):
                return True
    if isinstance(obj, list):
        return any(_has_secret(v) for v in obj)
    if isinstance(obj, str) and "://" in obj:
        # a URL with user:password@
        rest = obj.split("://", 1)[1].split("/", 1)[0]
        return "@" in rest and ":" in rest.split("@", 1)[0]
    return False


def _secret_warnings(path: Path, label: str, raw: Any) -> list[str]:
    if os.name != "posix" or not _has_secret(raw):
        return []
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        return [
            f"{label}: holds a secret but is readable by others: chmod 600 {path} (or move it to a Secret block)"
        ]
    return []


def load_config(settings: Settings | None = None) -> Config:
    """The configuration in force: the config directory if it exists, else the embedded default."""
    settings = settings or get_settings()
    if settings.config_dir.is_dir():
        return validate_dir(settings.config_dir, settings)
    if settings.config_dir_explicit:
        raise ConfigError([f"{settings.config_dir}: DASHCAM_CONFIG_DIR points at a missing directory"])
    return Config(GlobalConfig(), {}, None, settings)
