"""Asset checks by layer: pandera models of every table, the checks built on them, and the
volume, duplicate, quarantine-rate and personal-data checks beyond the schema."""
