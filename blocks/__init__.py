"""Prefect blocks of the deployment and their registration (see ``blocks.setup``)."""

from blocks.storage import CAMERA_SECRET, DATABASE_SECRET, RESULTS_BLOCK, STORAGE_BLOCK, DashcamStorage

__all__ = ["CAMERA_SECRET", "DATABASE_SECRET", "RESULTS_BLOCK", "STORAGE_BLOCK", "DashcamStorage"]
