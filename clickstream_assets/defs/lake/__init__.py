"""Tables at rest: silver and gold, their checks, and bronze maintenance (OPTIMIZE, VACUUM)."""
