"""The local Kinesis endpoint outlives a client that dies mid-request, as AWS's does: a
gateway or job killed while a PutRecords was in flight used to take kinesalite down."""

import socket
import struct

import pytest

from streaming.kinesis import kinesis_client

pytestmark = pytest.mark.slow


def test_a_request_cut_off_mid_body_leaves_the_endpoint_serving(kinesis):
    settings = kinesis.settings
    with socket.create_connection(("127.0.0.1", settings.kinesis_port)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     b"X-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Length: 100000\r\n\r\n"
                     + b"{" * 1000)
        # a reset, not a polite close: what the kernel sends for a SIGKILLed process's socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    summary = kinesis_client(settings).describe_stream_summary(StreamName=settings.stream_name)
    assert summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
    assert kinesis.processes["kinesis"].poll() is None
