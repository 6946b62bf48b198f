"""Tooling around the pipeline: simulated traffic, the demo, benchmarks and fault injection.
Never packaged for AWS, and never imported by the data path or by clickstream_assets."""
