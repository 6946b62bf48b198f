"""Enrichment: URL parts, UTM, user agent, and pseudonymized network fields."""

from __future__ import annotations

import pytest

from streaming.ingest.enrich import (
    enrich,
    ip_hash,
    ip_network,
    request_fields,
    strip_denied_params,
    url_parts,
)

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_url_parts_and_utm_parameters():
    parts = url_parts("https://shop.example.com/sale?utm_source=news&utm_campaign=bf&x=1")
    assert parts["page_host"] == "shop.example.com"
    assert parts["page_path"] == "/sale"
    assert (parts["utm_source"], parts["utm_campaign"], parts["utm_medium"]) == ("news", "bf", None)
    with pytest.raises(TypeError):  # cached and shared by every event with this URL
        parts["page_path"] = "/elsewhere"


def test_denied_query_parameters_are_stripped_and_others_kept():
    url = "https://shop.example.com/login?email=a%40b.com&token=abc&page=2"
    assert strip_denied_params(url) == "https://shop.example.com/login?page=2"


def test_ip_is_hashed_with_salt_and_truncated():
    assert ip_hash("203.0.113.7", "salt-a") != ip_hash("203.0.113.7", "salt-b")
    assert ip_hash("203.0.113.7", "salt-a") == ip_hash("203.0.113.7", "salt-a")
    assert "203.0.113.7" not in ip_hash("203.0.113.7", "salt-a")
    assert ip_network("203.0.113.7") == "203.0.113.0/24"
    assert ip_network("2001:db8:1234:5678::1") == "2001:db8:1234::/48"
    assert ip_network("not an ip") is None


def test_enriched_record_carries_server_fields_and_never_the_raw_ip():
    event = {"event_id": "0B7F5E0C-3C1A-4D8E-9A53-0D2F0B1F6A11", "event_type": "page_view",
             "event_time": "2026-11-25T10:00:00Z", "anonymous_id": "a", "session_id": "s",
             "page_url": "https://shop.example.com/?utm_source=x&email=me%40x.org",
             "properties": {"price": 9.5, "vip": True}}
    shared = request_fields(received_at="2026-11-25T10:00:01Z", ingest_id="i1",
                            source_ip="198.51.100.23", user_agent=CHROME, salt="s")
    record = enrich(event, shared, "s")
    assert record["event_id"] == event["event_id"].lower()
    assert record["ua_browser"] == "Chrome" and record["is_bot"] is False
    assert record["properties"] == {"price": "9.5", "vip": "true"}
    assert record["utm_source"] == "x" and "email" not in record["page_url"]
    assert "198.51.100.23" not in str(record)
    assert record["ip_network"] == "198.51.100.0/24"


def test_crawlers_are_flagged_as_bots():
    record = enrich({"event_id": "0b7f5e0c-3c1a-4d8e-9a53-0d2f0b1f6a11", "event_type": "click",
                     "event_time": "2026-11-25T10:00:00Z", "anonymous_id": "a",
                     "session_id": "s"},
                    request_fields(received_at="t", ingest_id="i", source_ip=None,
                                   user_agent=GOOGLEBOT, salt="s"), "s")
    assert record["is_bot"] is True and record["ip_hash"] is None
