"""Report pages built from the lake: the KPI dashboard."""
