"""The SQL catalog and the business views over the lake."""
