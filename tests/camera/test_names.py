from __future__ import annotations

import logging
from datetime import datetime

import pytest

from dashcam.camera.names import (
    HostileName,
    group_moments,
    is_video_name,
    moment_key,
    parse_clip_name,
    safe_name,
)

T = datetime(2023, 8, 15, 12, 34, 56)


@pytest.mark.parametrize(
    ("name", "when", "seq", "channel", "kind", "style"),
    [
        ("2023_0815_123456_000120F.MP4", T, 120, "F", "normal", "standard"),
        ("2023_0815_123456_000121R.MP4", T, 121, "R", "normal", "standard"),
        ("2023_0815_123456_000122I.MP4", T, 122, "I", "normal", "standard"),
        ("2023_0815_123456_000123T.MP4", T, 123, "T", "normal", "standard"),
        ("2023_0815_123456_000120PF.MP4", T, 120, "F", "parking", "standard"),
        ("2023_0815_123456_000120PR.MP4", T, 120, "R", "parking", "standard"),
        ("2023_0815_123456_000120EF.MP4", T, 120, "F", "event", "standard"),
        ("2023_0815_123456_0001PF.MP4", T, 1, "F", "parking", "standard"),
        ("2023_0815_123456_000120f.mp4", T, 120, "F", "normal", "standard"),
        ("2023_0815_123456_000120F.MOV", T, 120, "F", "normal", "standard"),
        ("20230815_123456_0001PF.MP4", T, 1, "F", "parking", "nosep"),
        ("2023_0516_192739_F.MP4", datetime(2023, 5, 16, 19, 27, 39), None, "F", "normal", "a139"),
        ("2023_0516_192739_R.MP4", datetime(2023, 5, 16, 19, 27, 39), None, "R", "normal", "a139"),
        ("2023_0516_192739_PF.MP4", datetime(2023, 5, 16, 19, 27, 39), None, "F", "parking", "a139"),
        ("20260406142122_000022.MP4", datetime(2026, 4, 6, 14, 21, 22), 22, None, "normal", "compact"),
    ],
)
def test_every_viofo_style_parses(name, when, seq, channel, kind, style):
    clip = parse_clip_name(name)
    assert clip.matched
    assert (clip.recorded_local, clip.sequence, clip.channel, clip.kind, clip.style) == (
        when,
        seq,
        channel,
        kind,
        style,
    )
    assert clip.recorded_local.tzinfo is None  # camera clock: naive local time


@pytest.mark.parametrize(
    "name",
    [
        "holiday.mp4",
        "2023_1315_123456_000120F.MP4",  # month 13
        "2023_0815_123456_.MP4",  # neither sequence nor channel
        "2023_0815_123456_000120X.MP4",  # unknown channel
        "2023_0815_123456_000120F.JPG",
        "IMG_0001.MP4",
    ],
)
def test_unknown_name_keeps_file_time_and_leaves_the_warning_to_its_caller(name, caplog):
    fallback = datetime(2024, 1, 2, 3, 4, 5)
    with caplog.at_level(logging.WARNING, logger="dashcam.camera.names"):
        clip = parse_clip_name(name, fallback_time=fallback)
    assert not clip.matched
    assert clip.style == "unknown"
    assert clip.recorded_local == fallback
    assert (clip.sequence, clip.channel, clip.kind) == (None, None, "normal")
    assert caplog.text == ""  # parsed more than once per file: the ingest says it, once


def test_front_and_rear_of_one_moment_share_a_key():
    # Parking mode numbers each lens separately: the key must not include the sequence.
    front = parse_clip_name("2023_0815_123456_000120PF.MP4")
    rear = parse_clip_name("2023_0815_123456_000121PR.MP4")
    later = parse_clip_name("2023_0815_123556_000122PF.MP4")
    assert moment_key(front) == moment_key(rear) == "20230815T123456"
    assert moment_key(later) != moment_key(front)
    groups = group_moments([front, rear, later])
    assert groups["20230815T123456"] == {"F": front, "R": rear}
    assert set(groups["20230815T123556"]) == {"F"}


def test_moment_key_across_styles_and_unknown():
    assert moment_key(parse_clip_name("2023_0516_192739_F.MP4")) == moment_key(
        parse_clip_name("2023_0516_192739_R.MP4")
    )
    assert moment_key(parse_clip_name("notes.mp4")) is None
    assert moment_key(parse_clip_name("notes.mp4", fallback_time=T)) == "20230815T123456"


@pytest.mark.parametrize(
    "name",
    [
        "2023_0815_123456_000120F.MP4",
        "20260406142122_000022.MP4",
        "Unfall Müller (1).mp4",
        "clip.v2.mp4",
    ],
)
def test_safe_name_accepts_plain_names(name):
    assert safe_name(name) == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("..", ".."),
        ("../../etc/passwd", "separator"),
        ("..\\..\\x.MP4", "separator"),
        ("/etc/passwd", "separator"),
        ("a/b.MP4", "separator"),
        ("C:x.MP4", "drive"),
        ("x\x00.MP4", "NUL"),
        ("x\n.MP4", "control"),
        ("x\ufffd.MP4", "control"),
        ("x..MP4", ".."),
        (".hidden.MP4", "hidden"),
        ("x.MP4.part", ".part"),
        ("x.MP4 ", "ends"),
        ("a" * 300 + ".MP4", "longer"),
        ("what?.MP4", "SMB"),
    ],
)
def test_safe_name_rejects_hostile_names_with_a_reason(name, why):
    with pytest.raises(HostileName, match=why) as info:
        safe_name(name)
    assert "\n" not in str(info.value)


def test_video_names():
    assert is_video_name("x.MP4") and is_video_name("x.mov")
    assert not is_video_name("x.JPG") and not is_video_name("x.MP4.part")
