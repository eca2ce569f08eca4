"""The retention stage: ``plan`` (which files the rules let go, and why others stay) and ``apply`` (deleting
them with a record)."""
