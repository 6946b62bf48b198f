"""The data plane of the clickstream lakehouse: contract, ingestion, stream job."""
