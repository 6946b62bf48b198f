"""Fault injection for the embedded pipeline: crash components under load and prove that
nothing the gateway acknowledged is lost or doubled.

client    the load, in its own process: tracker-sized flushes retried the way tracker.js
          retries them (same event_ids, backoff, 429/5xx/network errors) until delivered
faults    what the harness does to the stack: SIGKILL and restart of each component, a job
          kill timed to a Delta commit or a running batch, broken records past the handler
verify    the counts a run is judged by, read from bronze and quarantine with delta-rs
run       `clickstream faults`: one run with its schedule of faults and its report
proxy     a Kinesis endpoint in front of kinesalite that refuses or throttles writes
"""
