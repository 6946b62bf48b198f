"""Dagster code location of the clickstream lakehouse (see definitions.py)."""
