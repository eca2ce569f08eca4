"""SQLModel tables of what the stages produce, shaped for the web UI's searches.

Natural keys (unique constraints) make every stage's write an idempotent upsert: a clip is its
content hash; a stage run is (clip, stage); a sighting is (clip, track); a plate read is
(sighting, video time); a medium is its storage key. Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


def _fk(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target, ondelete="CASCADE"), nullable=nullable, index=index),
    )


# ---------------------------------------------------------------- clips


class ClipBase(SQLModel):
    content_hash: str = Field(max_length=64, description="sha256 of the file's bytes: the clip's identity")
    file_name: str = Field(max_length=255, description="the camera's file name")
    source: str | None = Field(
        default=None, max_length=1024, description="where it came from (camera URL path or folder)"
    )
    channel: str | None = Field(
        default=None, max_length=1, description="F front, R rear, I interior, T telephoto"
    )
    kind: str = Field(default="normal", max_length=16, description="normal, parking, event or protected")
    protected: bool = Field(
        default=False, description="read-only on the camera (RO/event): retention keeps it"
    )
    pinned: bool = Field(default=False, description="pinned by a user: retention keeps it")
    sequence: int | None = Field(default=None, description="the camera's running clip number")
    moment_key: str | None = Field(
        default=None, max_length=64, index=True, description="links front/rear clips of one moment"
    )
    recorded_local: str | None = Field(
        default=None, max_length=32, description="start time on the camera's clock (ISO, no zone)"
    )
    utc_offset_s: int | None = Field(default=None, description="camera clock minus UTC, estimated from GPS")
    duration_s: float | None = None
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    raw_key: str | None = Field(
        default=None, max_length=512, description="storage key in the raw area (None once deleted)"
    )
    gps_points: int = 0


class Clip(ClipBase, table=True):
    __tablename__ = "clip"
    __table_args__ = (UniqueConstraint("content_hash", name="uq_clip_content_hash"),)
    id: int | None = Field(default=None, primary_key=True)
    recorded_at: datetime | None = _ts(index=True)  # UTC start of the clip
    created_at: datetime | None = _ts(nullable=False)
    updated_at: datetime | None = _ts(nullable=False)
    raw_deleted_at: datetime | None = _ts()


class ClipPublic(ClipBase):
    id: int
    recorded_at: datetime | None
    created_at: datetime


# ---------------------------------------------------------------- stage runs


class StageRun(SQLModel, table=True):
    """The latest state of one stage for one clip (attempts counts retries)."""

    __tablename__ = "stage_run"
    __table_args__ = (
        UniqueConstraint("clip_id", "stage", name="uq_stage_run_clip_stage"),
        Index("ix_stage_run_stage_status", "stage", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = _fk("clip.id", index=False)
    stage: str = Field(max_length=32)
    version: str = Field(max_length=32)
    status: str = Field(max_length=16, description="queued, running, done, failed, skipped")
    error: str | None = Field(default=None, max_length=4000)
    attempts: int = 0
    device: str | None = Field(default=None, max_length=255)
    flow_run_id: str | None = Field(default=None, max_length=64)
    cache_key: str | None = Field(default=None, max_length=128)
    output_key: str | None = Field(default=None, max_length=512)
    stats: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts(index=True)
    duration_s: float | None = None
    owner: str | None = Field(
        default=None, max_length=64, description="token of the attempt holding the clip"
    )
    lease_until: datetime | None = _ts()  # a running claim expires here unless renewed (dead workers)
    owner_process: str | None = Field(
        default=None,
        max_length=160,
        description="host/boot id:pid namespace/pid of the process holding the claim: on its own machine "
        "(and in its own container) a dead one's claim is free at once, without waiting for the lease",
    )


# ---------------------------------------------------------------- GPS


class GpsPoint(SQLModel, table=True):
    __tablename__ = "gps_point"
    __table_args__ = (
        UniqueConstraint("clip_id", "t", name="uq_gps_point_clip_t"),
        Index("ix_gps_point_lat_lon", "lat", "lon"),
    )
    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = _fk("clip.id", index=False)
    t: float = Field(description="seconds from the start of the clip")
    time_utc: datetime | None = _ts(index=True)
    lat: float
    lon: float
    speed_kmh: float | None = None
    heading: float | None = None


# ---------------------------------------------------------------- preprocess windows


class Window(SQLModel, table=True):
    """A stretch of a clip the preprocess stage found worth heavy processing."""

    __tablename__ = "window"
    __table_args__ = (UniqueConstraint("clip_id", "start_s", name="uq_window_clip_start"),)
    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = _fk("clip.id", index=False)
    start_s: float
    end_s: float
    score: float = 0.0
    labels: list[str] | None = Field(default=None, sa_column=Column(JSON))


# ---------------------------------------------------------------- sightings and plates


PLATE_COVER = (
    "plate_text",
    "plate_confidence",
    "time_utc",
    "id",
    "clip_id",
    "label",
    "score",
    "plate_corrected",
    "lat",
    "lon",
    "best_s",
    "first_s",
    "last_s",
    "time_local",
)
"""The columns of ix_sighting_plate_cover: what a search hit shows of a sighting (dashcam.search.query)."""


class Sighting(SQLModel, table=True):
    """One tracked object in one clip: first/last time, best frame, a box per frame."""

    __tablename__ = "sighting"
    __table_args__ = (
        UniqueConstraint("clip_id", "track_id", name="uq_sighting_clip_track"),
        Index("ix_sighting_lat_lon", "lat", "lon"),
        Index("ix_sighting_label_time", "label", "time_utc"),
        # partial: corrections are rare, and an index of NULLs makes SQLite's planner shun it (0003)
        Index(
            "ix_sighting_plate_corrected",
            "plate_corrected",
            sqlite_where=text("plate_corrected IS NOT NULL"),
            postgresql_where=text("plate_corrected IS NOT NULL"),
        ),
        # 1/500 degree latitude bands, then longitude: a map query seeks a few narrow strips instead of
        # scanning a whole band of latitude around the globe (dashcam.search, 0003)
        Index("ix_sighting_lat_band", text("CAST(lat * 500 AS INTEGER)"), "lon", "lat", "time_utc"),
        # a plate search reads its hits from this index alone, a few pages in a row, instead of a page per
        # hit from the table (each decrypted under SQLCipher, each a seek on a disk): every column a hit
        # shows, the plate first (0013)
        Index(
            "ix_sighting_plate_cover",
            *PLATE_COVER,
            sqlite_where=text("plate_text IS NOT NULL"),
            postgresql_where=text("plate_text IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = _fk("clip.id", index=False)
    track_id: int
    label: str = Field(max_length=32)
    score: float
    first_s: float
    last_s: float
    best_s: float
    best_box: list[float] | None = Field(default=None, sa_column=Column(JSON))
    frames: int = Field(default=0, description="boxes in its SightingTrack")
    time_utc: datetime | None = _ts(index=True)
    time_local: str | None = Field(
        default=None,
        max_length=19,
        index=True,
        description="the camera's local wall-clock time, ISO without a zone (YYYY-MM-DDTHH:MM:SS): time_utc "
        "moved by the clip's UTC offset, time_utc itself where the offset is unknown; a date typed in a "
        "search means this clock",
    )
    lat: float | None = None
    lon: float | None = None
    speed_kmh: float | None = None
    heading: float | None = None
    plate_text: str | None = Field(default=None, max_length=16, description="consensus of the reads")
    plate_key: str | None = Field(
        default=None, max_length=16, index=True, description="plate with OCR confusions folded"
    )
    plate_confidence: float | None = None
    plate_alternatives: list[str] | None = Field(default=None, sa_column=Column(JSON))
    plate_corrected: str | None = Field(default=None, max_length=16, description="a user's correction")
    merged_from: int = Field(
        default=1,
        sa_column_kwargs={"server_default": "1"},
        description="how many tracks were joined into this sighting (a detector dropout, a gap between "
        "windows); a user can split them apart again",
    )
    parts: list[list[float]] | None = Field(
        default=None, sa_column=Column(JSON), description="[first_s, last_s] of each track joined in"
    )
    continues_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("sighting.id", ondelete="SET NULL"), nullable=True, index=True),
        description="the sighting of the same vehicle in the previous file of the drive",
    )
    label_scores: dict[str, float] | None = Field(
        default=None,
        sa_column=Column(JSON),
        description="each class's share of the detector's confidence-weighted class scores over the track (0010)",
    )


class SightingTrack(SQLModel, table=True):
    """A sighting's box on each frame and its colour signature, kept apart from the sighting's row (0012).

    Only the joins across the files of a drive, a user's split of a join and the scoring read them. A search
    reads sighting rows by the hundred, and with a box per frame inside (about 45 bytes each, ten a second)
    a sighting filled a 4 KiB page or more on its own, instead of sharing one with some thirty others.
    """

    __tablename__ = "sighting_track"
    sighting_id: int = Field(
        sa_column=Column(Integer, ForeignKey("sighting.id", ondelete="CASCADE"), primary_key=True)
    )
    boxes: list[list[float]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False),
        description="[t, x1, y1, x2, y2, score] per frame (score 0: a box drawn over a gap)",
    )
    signature: list[float] | None = Field(
        default=None, sa_column=Column(JSON), description="colour signature (dashcam.vision.reid)"
    )


class PlateRead(SQLModel, table=True):
    """One OCR read of a plate on one frame of a sighting."""

    __tablename__ = "plate_read"
    __table_args__ = (
        UniqueConstraint("sighting_id", "t", name="uq_plate_read_sighting_t"),
        Index("ix_plate_read_lat_lon", "lat", "lon"),
    )
    id: int | None = Field(default=None, primary_key=True)
    sighting_id: int = _fk("sighting.id", index=False)
    clip_id: int = _fk("clip.id")
    t: float
    text_raw: str = Field(max_length=32)
    text: str = Field(max_length=16, index=True)
    plate_key: str = Field(max_length=16, index=True)
    confidence: float
    evidence: float | None = Field(
        default=None,
        description="what the read is worth: confidence scaled down when small or blurred (0010)",
    )
    box: list[float] | None = Field(default=None, sa_column=Column(JSON))
    time_utc: datetime | None = _ts(index=True)
    lat: float | None = None
    lon: float | None = None


# ---------------------------------------------------------------- media


class Media(SQLModel, table=True):
    """A web-ready file (thumbnail, plate crop, sighting clip, web copy of a clip) and where it is now."""

    __tablename__ = "media"
    __table_args__ = (UniqueConstraint("key", name="uq_media_key"),)
    id: int | None = Field(default=None, primary_key=True)
    clip_id: int = _fk("clip.id")
    sighting_id: int | None = _fk("sighting.id", nullable=True)
    kind: str = Field(max_length=16, description="thumbnail, plate_crop, sighting_clip, clip_web")
    key: str = Field(max_length=512, description="deterministic storage key, the same in every area")
    area: str = Field(max_length=16, description="heavy_output until archived, then archive")
    mime: str = Field(max_length=64)
    size_bytes: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)
    created_at: datetime | None = _ts(nullable=False)
    archived_at: datetime | None = _ts()


# ---------------------------------------------------------------- watchlist


class WatchlistEntry(SQLModel, table=True):
    __tablename__ = "watchlist"
    __table_args__ = (UniqueConstraint("pattern", "mode", name="uq_watchlist_pattern_mode"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128)
    pattern: str = Field(
        max_length=64, description="a plate, a regular expression, or a plate to match within N edits"
    )
    mode: str = Field(default="exact", max_length=8, description="exact, pattern or edits")
    max_edits: int = 0
    notes: str | None = Field(default=None, max_length=1000)
    created_at: datetime | None = _ts(nullable=False)


# ---------------------------------------------------------------- plate search index (dashcam.search)


class Plate(SQLModel, table=True):
    """Every plate text seen (a correction wins over the OCR consensus): the plates listing, fuzzy search's entry."""

    __tablename__ = "plate"
    __table_args__ = (
        UniqueConstraint("text", name="uq_plate_text"),
        Index("ix_plate_sightings", "sightings"),
        Index("ix_plate_last_seen", "last_seen"),
    )
    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=16, description="the plate as shown")
    key: str = Field(max_length=16, index=True, description="the plate with OCR confusions folded")
    sightings: int = Field(
        default=0, description="sightings showing it (0: none left, kept for its variants)"
    )
    first_seen: datetime | None = _ts()
    last_seen: datetime | None = _ts()
    last_sighting_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("sighting.id", ondelete="SET NULL"), nullable=True),
    )
    last_lat: float | None = None
    last_lon: float | None = None


class PlateVariant(SQLModel, table=True):
    """A plate key with up to two characters deleted: the symmetric-deletion index of fuzzy plate search."""

    __tablename__ = "plate_variant"
    __table_args__ = ({"sqlite_with_rowid": False},)
    variant: str = Field(max_length=16, primary_key=True)
    plate_id: int = Field(
        sa_column=Column(Integer, ForeignKey("plate.id", ondelete="CASCADE"), primary_key=True)
    )


# ---------------------------------------------------------------- retention


class RetentionEvent(SQLModel, table=True):
    """One file retention deleted, or tried to delete and could not (retried on the next run)."""

    __tablename__ = "retention_event"
    __table_args__ = (Index("ix_retention_event_area_at", "area", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _ts(nullable=False, index=True)
    clip_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("clip.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    area: str = Field(max_length=16, description="raw, preproc or heavy_output")
    key: str = Field(max_length=512, description="storage key of the file")
    what: str = Field(max_length=16, description="raw_clip, preproc, archived_media or orphan")
    reason: str = Field(max_length=16, description="age or quota")
    status: str = Field(max_length=16, description="deleted or failed")
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    error: str | None = Field(default=None, max_length=1000)


# ---------------------------------------------------------------- web UI accounts


class UiUser(SQLModel, table=True):
    """A web UI account; the password is kept only as an argon2id hash."""

    __tablename__ = "ui_user"
    __table_args__ = (UniqueConstraint("username", name="uq_ui_user_username"),)
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    password_hash: str = Field(max_length=255, description="argon2id hash (argon2-cffi)")
    created_at: datetime | None = _ts(nullable=False)
    last_login_at: datetime | None = _ts()
    generation: int = Field(
        default=0,
        sa_column_kwargs={"server_default": "0"},
        description="raised by a password reset: every token and UI session of an older generation ends",
    )


class UiLoginAttempt(SQLModel, table=True):
    """One login attempt: the web UI refuses logins after too many recent failures (rate limit)."""

    __tablename__ = "ui_login_attempt"
    __table_args__ = (
        Index("ix_ui_login_attempt_username_at", "username", "at"),
        Index("ix_ui_login_attempt_remote_at", "remote", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _ts(nullable=False)
    username: str = Field(max_length=64)
    remote: str = Field(max_length=64, description="client address as the web UI saw it")
    ok: bool = False


# ---------------------------------------------------------------- REST API: devices and their keys


class Device(SQLModel, table=True):
    """A processing device as its heartbeats describe it (the REST API's ``/devices``)."""

    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("hostname", name="uq_device_hostname"),)
    id: int | None = Field(default=None, primary_key=True)
    hostname: str = Field(max_length=255)
    device_type: str | None = Field(default=None, max_length=32, description="jetson_coral, rtx_gpu, ...")
    version: str | None = Field(default=None, max_length=64, description="dashcam-processor version it runs")
    free_scratch_bytes: int | None = Field(default=None, sa_type=BigInteger)
    accelerator: bool | None = Field(default=None, description="a CUDA GPU or an Edge TPU is present")
    last_heartbeat_at: datetime | None = _ts(index=True)
    work_pool: str | None = Field(default=None, max_length=64, description="Prefect work pool it serves")


class ApiKey(SQLModel, table=True):
    """A device's API key: only an argon2id hash is kept, found by its public ``key_id`` prefix."""

    __tablename__ = "api_key"
    __table_args__ = (UniqueConstraint("key_id", name="uq_api_key_key_id"),)
    id: int | None = Field(default=None, primary_key=True)
    device: str = Field(max_length=255, index=True, description="hostname the key speaks for")
    key_id: str = Field(max_length=16, description="public part of the key, for lookup")
    key_hash: str = Field(
        max_length=255, description="hmac-sha256$<hex> of the whole key (older keys: an argon2id hash)"
    )
    created_at: datetime | None = _ts(nullable=False)
    revoked_at: datetime | None = _ts()


ALL_TABLES = [
    Clip,
    StageRun,
    GpsPoint,
    Window,
    Sighting,
    PlateRead,
    Media,
    WatchlistEntry,
    Plate,
    PlateVariant,
    RetentionEvent,
    UiUser,
    UiLoginAttempt,
    Device,
    ApiKey,
]
