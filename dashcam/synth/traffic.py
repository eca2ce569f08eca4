"""Plan the traffic of a synthetic drive: which vehicle, in which lane, when, carrying which plate.

Near vehicles (each carries a plate meant to be read) are staggered over the lanes so one lane never
holds two vehicles that could cross; distant vehicles fill the gaps and carry plates that stay too small
to read, which is what "never legible" means in the ground truth.
"""

from __future__ import annotations

import logging
import random

from dashcam.synth.plates import random_plate, spec_for
from dashcam.synth.route import Route
from dashcam.synth.vehicles import BODIES, COLOURS, CUTIN_S, PLATE_SCALE, Kind, Vehicle, simulate

log = logging.getLogger(__name__)

LANES = (-1, 0, 1)
READ_MARGIN = 1.5  # a held vehicle's plate is this many times the legibility threshold
NEAR_SECONDS = 8.0  # a near vehicle needs about this long from spawning to a readable plate
PASS_Z = 20.0
SIDE_MIN_Z = 6.5  # metres: nearer than this, a plate in the next lane is partly out of frame  # an overtaking vehicle may follow a receding one once it is this far


def z_near_for(plate_height_m: float, *, focal_px: float, min_plate_px: float) -> float:
    """How close a vehicle comes so that its plate is comfortably above the legibility threshold."""
    z = focal_px * plate_height_m * PLATE_SCALE / (min_plate_px * READ_MARGIN)
    return min(9.0, max(4.2, z))


def _intervals_free(busy: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= s or start >= e for s, e in busy)


def plan_traffic(
    route: Route,
    *,
    frames: int,
    fps: float,
    seed: int,
    plates: list[str] | None,
    focal_px: float,
    min_plate_px: float,
) -> list[Vehicle]:
    """Vehicles for the whole clip: the given plates (in order) or random ones, plus distant traffic."""
    rng = random.Random(f"traffic:{seed}")
    used: set[str] = set(plates or [])
    spawn_free = dict.fromkeys(LANES, 0)  # frame from which a vehicle may enter the lane from ahead
    pass_free = dict.fromkeys(LANES, 0)  # frame from which one may enter it from behind
    busy: dict[int, list[tuple[int, int]]] = {lane: [] for lane in LANES}
    vehicles: list[Vehicle] = []
    t_next = first = int(0.3 * fps)
    last_start = frames - int(NEAR_SECONDS * fps)
    k = 0
    while True:
        if plates is not None and k >= len(plates):
            break
        if plates is None and (t_next > last_start or k >= 1 + frames // int(4 * fps)):
            break
        text = plates[k] if plates is not None else random_plate(rng)
        while plates is None and text in used:
            text = random_plate(rng)
        spec = spec_for(text)
        z_near = z_near_for(spec.height_m, focal_px=focal_px, min_plate_px=min_plate_px)
        # A plate in the next lane is only wholly in frame beyond SIDE_MIN_Z: use those lanes when it is
        # still legible there (not at small frame sizes).
        z_read = focal_px * spec.height_m * PLATE_SCALE / min_plate_px
        lanes = LANES if z_read >= SIDE_MIN_Z * 1.25 else (0,)
        options: list[tuple[int, float, Kind, int, int]] = []
        for lane in lanes:
            options.append((max(t_next, spawn_free[lane]), rng.random(), "approach", lane, lane))
            if lane != 0:
                options.append((max(t_next, pass_free[lane]), rng.random(), "overtake", lane, lane))
        # Cutting in from the next lane, ahead of us but behind a vehicle that is pulling away.
        cut_at = max(t_next, pass_free[0])
        side = rng.choice((-1, 1))
        if _intervals_free(busy[side], cut_at, cut_at + int(CUTIN_S * fps)):
            options.append((cut_at, rng.random(), "cutin", 0, side))
        start, _, kind, lane, from_lane = min(options)
        if plates is None and start > last_start:
            break
        used.add(text)
        if lane != 0:
            z_near = max(z_near, SIDE_MIN_Z)
        # Traffic already under way when recording starts: the first vehicles are close already.
        z0 = z_near + rng.uniform(2.0, 6.0) if kind == "approach" and start <= first else None
        z, x = simulate(
            kind,
            lane,
            start,
            fps=fps,
            frames=frames,
            route=route,
            rng=rng,
            z_near=z_near,
            z0=z0,
            from_lane=from_lane,
        )
        v = Vehicle(
            id=len(vehicles) + 1,
            plate=spec,
            kind=kind,
            lane=lane,
            body=rng.choice(list(BODIES)),
            colour=rng.choice(COLOURS),
            start=start,
            z=z,
            x=x,
        )
        vehicles.append(v)
        busy[lane].append((start, v.end))
        if kind == "cutin":
            busy[from_lane].append((start, start + int(CUTIN_S * fps)))
        gap = int(0.5 * fps)
        spawn_free[lane] = v.end + gap
        closest = int(z.argmin()) if len(z) else 0
        far = [i for i in range(closest, len(z)) if z[i] > PASS_Z]
        pass_free[lane] = start + (far[0] if far else len(z)) + gap
        if kind == "overtake":
            pass_free[lane] = spawn_free[lane]
        t_next = start + int(rng.uniform(2.5, 5.0) * fps)
        k += 1
    _add_distant(vehicles, busy, route=route, frames=frames, fps=fps, rng=rng, used=used)
    log.debug("planned %d vehicles over %d frames", len(vehicles), frames)
    return vehicles


def _add_distant(
    vehicles: list[Vehicle],
    busy: dict[int, list[tuple[int, int]]],
    *,
    route: Route,
    frames: int,
    fps: float,
    rng: random.Random,
    used: set[str],
) -> None:
    """Far-away traffic in lanes and times nobody else uses: plates that are never legible."""
    wanted = max(1, frames // int(12 * fps))
    for _ in range(wanted * 40):
        if wanted <= 0:
            break
        start, lane = rng.randrange(0, max(1, frames - int(3 * fps))), rng.choice(LANES)
        z, x = simulate(
            "distant", lane, start, fps=fps, frames=frames, route=route, rng=rng, z_near=float("inf")
        )
        if not len(z) or not _intervals_free(busy[lane], start, start + len(z)):
            continue
        text = random_plate(rng)
        while text in used:
            text = random_plate(rng)
        used.add(text)
        vehicles.append(
            Vehicle(
                id=len(vehicles) + 1,
                plate=spec_for(text),
                kind="distant",
                lane=lane,
                body=rng.choice(list(BODIES)),
                colour=rng.choice(COLOURS),
                start=start,
                z=z,
                x=x,
            )
        )
        busy[lane].append((start, start + len(z)))
        wanted -= 1


def plan_passing(
    route: Route,
    *,
    times: list[float],
    frames: int,
    fps: float,
    seed: int,
    plates: list[str] | None,
    lane: int = -1,
) -> list[Vehicle]:
    """Vehicles that drive past a standing camera, one at each of ``times`` (seconds): they come from
    beside it in the next lane and pull away ahead (a parked car's view of passing traffic)."""
    rng = random.Random(f"passing:{seed}")
    used: set[str] = set(plates or [])
    vehicles: list[Vehicle] = []
    for k, t in enumerate(sorted(times)):
        start = int(round(t * fps))
        if not 0 <= start < frames:
            raise ValueError(f"a vehicle passing at {t:g} s is outside the clip")
        text = plates[k] if plates is not None and k < len(plates) else random_plate(rng)
        while text in used and (plates is None or k >= len(plates)):
            text = random_plate(rng)
        used.add(text)
        z, x = simulate("overtake", lane, start, fps=fps, frames=frames, route=route, rng=rng, z_near=0.0)
        vehicles.append(
            Vehicle(
                id=k + 1,
                plate=spec_for(text),
                kind="overtake",
                lane=lane,
                body=rng.choice(list(BODIES)),
                colour=rng.choice(COLOURS),
                start=start,
                z=z,
                x=x,
            )
        )
    return vehicles
