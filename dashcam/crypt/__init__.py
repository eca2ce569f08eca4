"""Encryption at rest: the keys (:mod:`.keys`), the archive's sealed objects (:mod:`.sealed`), the archive
area that seals and opens them (:mod:`.area`), and what `dashcam config validate` says about both
(:mod:`.checks`). The SQLite database's SQLCipher side lives with the engine, in :mod:`dashcam.db.cipher`."""
