"""The archive stage: ``record`` moves finished media to the archive area, verified, and flips their rows."""
