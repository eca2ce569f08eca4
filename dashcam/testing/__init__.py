"""Helpers for tests and benchmarks that run the pipeline for real (never imported by the pipeline itself)."""
