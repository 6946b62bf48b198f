"""The data plane of the clickstream lakehouse, one package per stage of the data path:
ingest (the Lambda), stream (the Glue job), lake (tables at rest), lakesql and reports; beside
them `local` (stand-ins for AWS on one machine) and `tools` (demo, bench, faults), which
nothing on the data path imports and neither zip ships."""
