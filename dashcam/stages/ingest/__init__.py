"""The ingest stage: ``record`` registers a file (hash, clip row, raw area) and its GPS track."""
