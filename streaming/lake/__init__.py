"""Tables at rest: the commit path of bronze and quarantine, reading tables and their log,
silver and gold modeling, and restore."""
