"""Data-quality machinery shared by every stage's checks: pandera rules of every table,
validation into failing rows, verdicts and their history, and the personal-data scan."""
