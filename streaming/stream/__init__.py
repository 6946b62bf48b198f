"""The stream job, the Glue streaming job script: Kinesis -> parse, validate, dedup -> bronze
and quarantine. Its zip holds this package and what it imports."""
