"""Search: the queries the web UI, the REST API and ``dashcam search`` share.

Design of fuzzy plate search (it must answer in milliseconds over a million sightings, on SQLite and
PostgreSQL alike, with no extension):

- A plate's *key* is its text with OCR confusions folded (O->0, B->8, ... from ``plates.confusions``), so
  a confusion costs nothing in key space. Tiers, best first: the exact text, the same key ("confusion"),
  then keys within N <= 2 edits (Levenshtein on keys). Within a tier, hits rank by a weighted distance on
  the texts (a confusable swap costs 0.5, a real edit 1), then plate confidence, then newest.
- Candidates come from a symmetric-deletion index (SymSpell's idea): ``plate`` holds one row per plate
  text seen, ``plate_variant`` each key with every choice of up to two characters deleted (29 rows for a
  7-character plate). Two keys within N edits share a variant with at most N deletions on each side, so
  a query is one primary-key ``IN`` lookup of its own <= 29 variants, followed by an exact Levenshtein
  check of the few candidates in Python. Lookups cost the same at any table size; the price is ~30 index
  rows per distinct plate (not per sighting), written once when a plate is first seen.
  A q-gram index was the alternative: fewer rows, but its posting lists grow with the table and need
  counting per query; a full scan (the bench's floor) needs a Levenshtein per sighting.
- Sightings are then fetched by their effective plate (a correction wins over the OCR consensus) through
  the existing ``plate_corrected``/``plate_text`` indexes; the confusion tier also reads the sighting
  ``plate_key`` index, so it sees sightings written since the last :func:`index_plates`.
- Map queries use the (lat, lon) index with a bounding box; ``near`` adds an equirectangular circle test
  in SQL and reports the great-circle distance.

Keeping the index current: the heavy stage calls :func:`index_plates` with the sightings it wrote,
corrections call it with the corrected sighting, deletions call :func:`refresh_plates` with the deleted
plate texts, and a change of ``plates.confusions`` calls :func:`reindex_plates`.
"""

from dashcam.search.detail import (
    MediaOut,
    PlateReadOut,
    PlatesPage,
    PlateSummary,
    SightingDetail,
    WatchlistMatch,
    plates_summary,
    query_for_entry,
    sighting_detail,
    watchlist_matches,
)
from dashcam.search.index import index_plates, refresh_plates, reindex_plates
from dashcam.search.query import classify, plate_candidates, search
from dashcam.search.text import (
    DEFAULT_CONFUSIONS,
    MAX_EDITS,
    deletion_variants,
    fold_confusions,
    levenshtein,
    normalize_plate,
    weighted_distance,
)
from dashcam.search.types import PlateMatch, SearchHit, SearchPage, SearchQuery

__all__ = [
    "DEFAULT_CONFUSIONS",
    "MAX_EDITS",
    "MediaOut",
    "PlateMatch",
    "PlateReadOut",
    "PlateSummary",
    "PlatesPage",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "SightingDetail",
    "WatchlistMatch",
    "classify",
    "deletion_variants",
    "fold_confusions",
    "index_plates",
    "levenshtein",
    "normalize_plate",
    "plate_candidates",
    "plates_summary",
    "query_for_entry",
    "refresh_plates",
    "reindex_plates",
    "search",
    "sighting_detail",
    "watchlist_matches",
    "weighted_distance",
]
