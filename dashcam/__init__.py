"""dashcam-processor: turn raw dashcam footage into searchable, labeled, GPS-tagged data.

The domain package holds plain functions and classes only; Prefect lives in ``flows/``.
"""

__version__ = "0.1.0"
