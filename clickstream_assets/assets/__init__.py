"""Assets by layer: ingestion (stream, bronze), modeled (silver, gold), maintenance."""
