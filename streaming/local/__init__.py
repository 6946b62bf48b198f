"""Stand-ins for AWS on one machine (the gateway for API Gateway, kinesalite for Kinesis, an
S3-compatible server, the supervised stack, `dagster dev`). Never packaged for AWS, and
never imported by the data path or by clickstream_assets."""
