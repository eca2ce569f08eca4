"""Realistic synthetic dashcam footage with known plates and route, for demos, end-to-end tests and benchmarks.

Entry point: :func:`synthesize` (``dashcam synth`` on the command line). The clip carries an A129-style
freeGPS track; ``<clip>.truth.json`` beside it says which plate is legible when and where the camera was.
"""

from dashcam.synth.plates import random_plate, random_plates, render_plate, spec_for
from dashcam.synth.route import Route, make_route
from dashcam.synth.synth import (
    SynthResult,
    default_plates,
    expected_seconds,
    parse_size,
    synthesize,
    truth_path_for,
    viofo_clip_name,
)

__all__ = [
    "Route",
    "SynthResult",
    "default_plates",
    "expected_seconds",
    "make_route",
    "parse_size",
    "random_plate",
    "random_plates",
    "render_plate",
    "spec_for",
    "synthesize",
    "truth_path_for",
    "viofo_clip_name",
]
