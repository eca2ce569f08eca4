"""The stages, one package each (ingest, preprocess, heavy, archive, retention): ``analysis`` (pure: a clip in,
results out) and ``record`` (that stage's rows and stored files). ``context`` holds what every stage shares
(StageContext, claims and leases); ``keys`` the stage versions and cache keys. ``flows/`` wraps them in Prefect.

Every stage records its state per clip in ``stage_run`` (running, done, failed with a one-line reason),
skips a clip whose stored cache key already matches (a rerun does no work), and writes its results
idempotently, so a retry after a crash replaces rather than duplicates.
"""
