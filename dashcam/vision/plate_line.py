"""The character line of a plate crop: where its registration characters sit, and at what slant.

A plate detector's box holds more than the characters: a state name and a slogan above and below them, a
dealer's frame, a sticker. A text recogniser reads one line; given three it reads a blend (OpenALPR's photo
us8, EAZ6913 between "NEW YORK" and "THE EMPIRE STATE", was read ENZ693 from a fixed band of the box).
Cutting a fixed share off the box's top and bottom does not find the line in a loose box, nor straighten a
plate seen at an angle.

Here the characters are found as what they are: connected components of the binarised crop, of a height
fit for a character, on one row. The largest such group (at least three, as every plate has; taller
characters win a tie) gives the line's height and, fitted through the characters' centres, its slant. The
crop is turned level around that line and cut to the characters' height with a small margin. Binarisation is
tried both ways round (dark on light, light on dark) and both globally (Otsu) and locally (a mean over a
window, for a shadow across the plate); the group with the most characters wins. Where none is found, the
long horizontal runs (a frame's edge, a strip of print that touches the characters' feet and joins them into
one component) are taken out and the search is run again.

A sticker or an emblem between two groups of characters (a state's registration sticker, Slovakia's coat of
arms) is read as one more character: SH0R7X as SH0LR7X, TS260AK as TS5260AK. Where the characters stand at an
even pitch but for one gap too narrow to hold a character (1.3-1.8 pitches between their centres), and what
stands in it is of another colour than the characters beside it, it is a mark: ``cut_to_line`` paints it over
in the plate's colour. The test is a guess (a character the components missed stands in such a gap too, and
colour alone does not always tell it: 5TZA419, whose Z is no component, was taken for a mark), so the plate
reader reads one crop painted and one not and lets its vote decide.

Only rows are cut: the ends of the line stay as wide as the box. A character joined to the plate's frame is
one large component and never in the group, so cutting to the group's ends loses it (tried on OpenALPR's us
photos: trimming to the group's span plus 0.3 character heights fixed 4 reads and lost 6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# The height the crop is analysed at (pixels): thresholds below are shares of it, small plates are upscaled.
WORK_HEIGHT = 96
# A character's height as a share of the crop's: a loose box holds characters of 25-60 % of its height.
CHAR_HEIGHT = (0.2, 0.95)
# A character's width as a share of its height: I and 1 are narrow, W and M are wide, two characters
# touching are wider still.
CHAR_WIDTH = (0.04, 1.3)
CHAR_FILL = 0.12  # least share of its box a character's strokes fill (a thin ring, a noise line are not)
# Components of one line: heights within this share of each other, centres within this share of a height.
SAME_HEIGHT, SAME_ROW = 0.2, 0.3
MIN_CHARS = 3
ADAPTIVE_BLOCK, ADAPTIVE_OFFSET = 31, 7  # local mean threshold: window (pixels at WORK_HEIGHT), offset
# a horizontal run at least this long is a bar of the frame, not a character's stroke (pixels at WORK_HEIGHT)
_BAR = cv2.getStructuringElement(cv2.MORPH_RECT, (WORK_HEIGHT // 2, 1))
# Room above and below the characters of a small plate, in the crop's pixels: blur spreads a 12 px character
# beyond what its binarised strokes show (us and eu photos downscaled to 0.7, blurred, JPEG 60: eu 0.704
# exact with no such floor, 0.778 with it; us 0.644 and 0.617; plates of full size do not reach it).
MIN_MARGIN_PX = 3.0
# A mark between two characters: at least this many characters found, the gap's centres this many pitches
# apart (a gap that holds a character is two), every other step within MARK_EVEN of the pitch, and the
# median colour of what stands in the gap this far from the characters' (OpenCV's 8-bit Lab). On OpenALPR's
# photos the stickers were 15-27 off, a missed Z 12.5; the distances of all that stood in such gaps ran 2-77
# without a clear break.
MARK_MIN_CHARS = 5
MARK_STEP = (1.3, 1.8)
MARK_EVEN = 0.25
MARK_COLOUR = 9.0
MIN_TILT_DEG = 0.7  # below this the crop is not turned (a resampling costs more sharpness than it gains)
MAX_TILT_DEG = 20.0  # a fit steeper than this is no plate line (a row of bolts, a slanted frame)


@dataclass(frozen=True)
class Mark:
    """A sticker or emblem between two characters: its rectangle (crop pixels, end exclusive) and the plate's
    colour around it (BGR), which it is painted over with."""

    x0: int
    y0: int
    x1: int
    y1: int
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class CharLine:
    """A row of characters in a crop, in the crop's pixels.

    ``centre_y`` is the line's centre at the crop's middle column, ``height`` the characters' median height,
    ``angle_deg`` the slant (positive: the line falls to the right, as image rows count down), ``left`` and
    ``right`` the outer edges of the characters found, ``count`` how many were, ``marks`` what stands between
    them that is no character.
    """

    centre_y: float
    height: float
    angle_deg: float
    left: float
    right: float
    count: int
    marks: tuple[Mark, ...] = ()


def _binaries(grey: np.ndarray) -> list[np.ndarray]:
    """The crop binarised four ways: dark and light characters, each by Otsu and by a local mean."""
    out = []
    for polarity in (cv2.THRESH_BINARY_INV, cv2.THRESH_BINARY):
        out.append(cv2.threshold(grey, 0, 255, polarity | cv2.THRESH_OTSU)[1])
        out.append(
            cv2.adaptiveThreshold(
                grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, polarity, ADAPTIVE_BLOCK, ADAPTIVE_OFFSET
            )
        )
    return out


def _char_boxes(binary: np.ndarray) -> np.ndarray:
    """(x, y, w, h) of the components shaped like a character, one row each."""
    height = binary.shape[0]
    _, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    x, y, w, h, area = (stats[1:, k].astype(np.float64) for k in range(5))
    ok = (
        (h >= CHAR_HEIGHT[0] * height)
        & (h <= CHAR_HEIGHT[1] * height)
        & (w >= CHAR_WIDTH[0] * h)
        & (w <= CHAR_WIDTH[1] * h)
        & (area >= CHAR_FILL * w * h)
    )
    return np.stack([x[ok], y[ok], w[ok], h[ok]], axis=1)


def _largest_row(boxes: np.ndarray) -> np.ndarray | None:
    """The largest set of boxes of about one height on one row (ties: the taller), or None under MIN_CHARS."""
    if len(boxes) < MIN_CHARS:
        return None
    h = boxes[:, 3]
    cy = boxes[:, 1] + h / 2
    # row k: the boxes that match box k's height and centre
    member = (np.abs(h[None, :] - h[:, None]) <= SAME_HEIGHT * h[:, None]) & (
        np.abs(cy[None, :] - cy[:, None]) <= SAME_ROW * h[:, None]
    )
    counts = member.sum(axis=1)
    best = max(range(len(boxes)), key=lambda k: (counts[k], float(np.median(h[member[k]]))))
    return boxes[member[best]] if counts[best] >= MIN_CHARS else None


def _best_row(binaries: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """The row with the most characters over the binarisations (ties: the taller), with its binarisation."""
    best: tuple[np.ndarray, np.ndarray] | None = None
    for binary in binaries:
        row = _largest_row(_char_boxes(binary))
        if row is not None and (
            best is None or (len(row), np.median(row[:, 3])) > (len(best[0]), np.median(best[0][:, 3]))
        ):
            best = (row, binary)
    return best


def _marks(crop: np.ndarray, binary: np.ndarray, row: np.ndarray, scale: float) -> tuple[Mark, ...]:
    """Stickers and emblems between the row's characters (``binary`` and ``row`` at WORK_HEIGHT, ``crop`` BGR)."""
    if crop.ndim != 3 or len(row) < MARK_MIN_CHARS:
        return ()
    row = row[np.argsort(row[:, 0])]
    steps = np.diff(row[:, 0] + row[:, 2] / 2)
    pitch = float(np.median(steps))
    if pitch <= 0:
        return ()
    steps /= pitch
    gaps = [
        k
        for k, step in enumerate(steps)
        if MARK_STEP[0] <= step < MARK_STEP[1] and np.all(np.abs(np.delete(steps, k) - 1) <= MARK_EVEN)
    ]
    if not gaps:
        return ()
    h, w = crop.shape[:2]
    ink = cv2.resize(binary, (w, h), interpolation=cv2.INTER_NEAREST) > 0
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).astype(np.float32)
    boxes = np.round(row[:, :4] / scale).astype(int)  # x, y, w, h in the crop's pixels
    top = max(0, int(boxes[:, 1].min()) - 1)
    bottom = min(h, int((boxes[:, 1] + boxes[:, 3]).max()) + 1)
    band = np.zeros_like(ink)
    band[top:bottom, boxes[0, 0] : boxes[-1, 0] + boxes[-1, 2]] = True
    if not (band & ~ink).any():
        return ()
    b, g, r = (int(v) for v in np.median(crop[band & ~ink], axis=0))
    out = []
    for k in gaps:
        x0, x1 = boxes[k, 0] + boxes[k, 2] + 1, boxes[k + 1, 0] - 1
        if x1 - x0 < 2:
            continue
        sides = np.zeros_like(ink)
        for j in (k, k + 1):
            x, y, bw, bh = boxes[j]
            sides[y : y + bh, x : x + bw] = True
        between = np.zeros_like(ink)
        between[top:bottom, x0:x1] = True
        chars, mark = lab[sides & ink], lab[between & ink]
        if len(chars) < 3 or len(mark) < 3:
            continue
        if np.linalg.norm(np.median(chars, axis=0) - np.median(mark, axis=0)) >= MARK_COLOUR:
            out.append(Mark(int(x0), top, int(x1), bottom, (b, g, r)))
    return tuple(out)


def find_char_line(crop: np.ndarray) -> CharLine | None:
    """The row of characters in a plate crop (BGR or grey), or None where no three characters line up."""
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h0, w0 = grey.shape[:2]
    if h0 < 8 or w0 < 16:
        return None
    scale = WORK_HEIGHT / h0
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    work = cv2.resize(grey, (max(16, round(w0 * scale)), WORK_HEIGHT), interpolation=interp)
    work = cv2.GaussianBlur(work, (3, 3), 0)
    binaries = _binaries(work)
    found = _best_row(binaries)
    if found is None:
        # Where a frame's edge or a strip of dealer's print touches the characters' feet, every character is
        # one component with it: without the long horizontal runs (far longer than a character is wide) the
        # characters stand apart again.
        found = _best_row(
            [cv2.bitwise_and(b, cv2.bitwise_not(cv2.morphologyEx(b, cv2.MORPH_OPEN, _BAR))) for b in binaries]
        )
    if found is None:
        return None
    best, binary = found
    xs = best[:, 0] + best[:, 2] / 2
    ys = best[:, 1] + best[:, 3] / 2
    slope, intercept = np.polyfit(xs, ys, 1) if np.ptp(xs) > 0 else (0.0, float(ys.mean()))
    angle = math.degrees(math.atan(slope))
    if abs(angle) > MAX_TILT_DEG:
        return None
    mid = work.shape[1] / 2
    return CharLine(
        centre_y=float(slope * mid + intercept) / scale,
        height=float(np.median(best[:, 3])) / scale,
        angle_deg=angle,
        left=float(best[:, 0].min()) / scale,
        right=float((best[:, 0] + best[:, 2]).max()) / scale,
        count=len(best),
        marks=_marks(crop, binary, best, scale),
    )


def cut_to_line(
    crop: np.ndarray, line: CharLine, margin: float, *, paint_marks: bool = True
) -> np.ndarray | None:
    """The crop, its marks painted over (unless not ``paint_marks``), turned level around the line and cut to
    its characters' height plus ``margin`` of that height above and below (at least MIN_MARGIN_PX); None when
    that leaves too little to read."""
    h, w = crop.shape[:2]
    if paint_marks and line.marks:
        crop = crop.copy()
        for m in line.marks:
            crop[m.y0 : m.y1, m.x0 : m.x1] = m.colour
    if abs(line.angle_deg) >= MIN_TILT_DEG:
        turn = cv2.getRotationMatrix2D((w / 2, line.centre_y), line.angle_deg, 1.0)
        crop = cv2.warpAffine(crop, turn, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    half = line.height / 2 + max(line.height * margin, MIN_MARGIN_PX)
    top, bottom = int(max(0.0, line.centre_y - half)), int(min(float(h), line.centre_y + half + 1))
    return crop[top:bottom] if bottom - top >= 6 else None
