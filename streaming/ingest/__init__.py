"""HTTP ingestion, the Lambda behind API Gateway: validate, enrich and pseudonymize events and
put them on the stream. Its zip holds this package and what it imports."""
