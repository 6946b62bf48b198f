"""pandera models of every layer: what a valid row of bronze, quarantine, silver and gold is.

They restate the contract (streaming.contract) and the transforms' guarantees as checks on
stored data, because stored data is what BI reads: a rule the handler enforces can still be
broken by a replay, another producer, a bug or a hand edit. Frames come from
`validation.frame_of`, which maps Arrow types to pandas dtypes that keep nulls (Int64,
boolean), so a model can say "nullable" and mean it. Rule names are what the data-quality
report and the check metadata show, so they are written for a reader.
"""

from itertools import pairwise
from typing import Annotated

import pandas as pd
from pandera.engines.pandas_engine import Date
from pandera.pandas import DataFrameModel, Field, check, dataframe_check
from pandera.typing import Series

from streaming.contract import (
    CUSTOM_EVENT_PATTERN,
    MAX_ID_LENGTH,
    MAX_URL_LENGTH,
    SCHEMA_VERSION,
    STANDARD_EVENT_TYPES,
    UUID_PATTERN,
)
from streaming.lake.modeling import FUNNEL_STEPS, IDENTITY_SOURCES

Timestamp = Annotated[pd.DatetimeTZDtype, "us", "UTC"]
CLOCK_SKEW = pd.Timedelta(minutes=5)
HEX32 = r"^[0-9a-f]{32}$"
NETWORK = r"^(\d{1,3}\.){3}\d{1,3}/24$|^[0-9a-f:]+/48$"
QUARANTINE_RULES = ("malformed_json", "aggregate", "event_id", "event_type", "event_time", "anonymous_id",
                    "session_id", "received_at", "schema_version")


def _utc_date(stamps: pd.Series) -> pd.Series:
    return stamps.dt.tz_convert("UTC").dt.date


def _null_or(condition: pd.Series, *columns: pd.Series) -> pd.Series:
    """A cross-field rule holds when it is true or when a value it needs is missing (the
    missing value is the nullability rule's finding, not this rule's)."""
    missing = pd.concat([c.isna() for c in columns], axis=1).any(axis=1)
    return condition.fillna(False).astype(bool) | missing


class BronzeEvents(DataFrameModel):
    """A bronze row: a valid v1 event as the handler enriched it and the stream job stored it."""

    event_id: Series[str] = Field(unique=True, str_matches=f"^{UUID_PATTERN.pattern}$")
    event_type: Series[str]
    event_time: Series[Timestamp]
    event_date: Series[Date]
    anonymous_id: Series[str] = Field(str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    session_id: Series[str] = Field(str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    user_id: Series[str] = Field(nullable=True, str_length={"max_value": MAX_ID_LENGTH})
    page_url: Series[str] = Field(nullable=True, str_matches=r"^https?://",
                                  str_length={"max_value": MAX_URL_LENGTH})
    page_host: Series[str] = Field(nullable=True)
    page_path: Series[str] = Field(nullable=True, str_startswith="/")
    referrer: Series[str] = Field(nullable=True)
    referrer_host: Series[str] = Field(nullable=True)
    utm_source: Series[str] = Field(nullable=True)
    utm_medium: Series[str] = Field(nullable=True)
    utm_campaign: Series[str] = Field(nullable=True)
    utm_term: Series[str] = Field(nullable=True)
    utm_content: Series[str] = Field(nullable=True)
    element: Series[object] = Field(nullable=True)
    properties: Series[object] = Field(nullable=True)
    ua_browser: Series[str] = Field(nullable=True)
    ua_browser_version: Series[str] = Field(nullable=True)
    ua_os: Series[str] = Field(nullable=True)
    ua_device: Series[str] = Field(nullable=True)
    is_bot: Series[pd.BooleanDtype]
    ip_hash: Series[str] = Field(nullable=True, str_matches=HEX32)
    ip_network: Series[str] = Field(nullable=True, str_matches=NETWORK)
    schema_version: Series[pd.Int32Dtype] = Field(isin=[SCHEMA_VERSION])
    received_at: Series[Timestamp]
    ingest_id: Series[str]
    kinesis_shard_id: Series[str]
    kinesis_sequence_number: Series[str] = Field(str_matches=r"^\d+$")
    kinesis_arrival_time: Series[Timestamp]

    class Config:
        strict = True

    @check("event_type", name="event_type is a v1 type (standard or custom:<name>)")
    def v1_event_type(cls, types: Series[str]) -> Series[bool]:
        return types.isin(STANDARD_EVENT_TYPES) | types.str.fullmatch(CUSTOM_EVENT_PATTERN.pattern)

    @dataframe_check(name="event_date is the UTC date of event_time")
    def date_of_event_time(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(_utc_date(frame["event_time"]) == frame["event_date"],
                        frame["event_time"], frame["event_date"])

    @dataframe_check(name="received_at >= event_time - 5 min (client clock skew)")
    def received_after_event(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(frame["received_at"] >= frame["event_time"] - CLOCK_SKEW,
                        frame["received_at"], frame["event_time"])

    @dataframe_check(name="page_view has a page_url")
    def page_view_has_url(cls, frame: pd.DataFrame) -> pd.Series:
        return (frame["event_type"] != "page_view") | frame["page_url"].notna()


class Quarantine(DataFrameModel):
    """A quarantined record or event: the raw record (an aggregate's event alone), why it was
    refused, and where it was in the stream (an aggregate's event also by its index)."""

    raw_record: Series[str]
    reason: Series[str] = Field(str_length={"min_value": 1})
    event_id: Series[str] = Field(nullable=True)
    kinesis_shard_id: Series[str]
    kinesis_sequence_number: Series[str] = Field(str_matches=r"^\d+$")
    kinesis_record_index: Series[pd.Int32Dtype] = Field(nullable=True, ge=0)
    kinesis_arrival_time: Series[Timestamp]
    quarantined_at: Series[Timestamp]
    quarantine_date: Series[Date]

    class Config:
        strict = True
        unique = ("kinesis_shard_id", "kinesis_sequence_number", "kinesis_record_index")

    @check("reason", name="every reason names a quarantine rule")
    def known_rules(cls, reasons: Series[str]) -> Series[bool]:
        return reasons.map(lambda text: all(part.split(":", 1)[0] in QUARANTINE_RULES
                                            for part in text.split("; ")))

    @dataframe_check(name="quarantine_date is the UTC date of quarantined_at")
    def date_of_quarantine(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(_utc_date(frame["quarantined_at"]) == frame["quarantine_date"],
                        frame["quarantined_at"], frame["quarantine_date"])


class SilverSessions(DataFrameModel):
    """A visit: one row per session, with its funnel timestamps."""

    session_date: Series[Date]
    session_key: Series[str] = Field(unique=True, str_matches=HEX32)
    anonymous_id: Series[str]
    user_id: Series[str] = Field(nullable=True)
    session_start: Series[Timestamp]
    session_end: Series[Timestamp]
    duration_seconds: Series[float] = Field(ge=0)
    events: Series[pd.Int64Dtype] = Field(ge=1)
    page_views: Series[pd.Int64Dtype] = Field(ge=0)
    entry_page: Series[str] = Field(nullable=True)
    exit_page: Series[str] = Field(nullable=True)
    converted: Series[pd.BooleanDtype]
    revenue: Series[float] = Field(ge=0)
    utm_source: Series[str] = Field(nullable=True)
    utm_campaign: Series[str] = Field(nullable=True)
    referrer_host: Series[str] = Field(nullable=True)
    ua_device: Series[str] = Field(nullable=True)
    is_bot: Series[pd.BooleanDtype]
    first_page_view_at: Series[Timestamp] = Field(nullable=True)
    first_add_to_cart_at: Series[Timestamp] = Field(nullable=True)
    first_checkout_at: Series[Timestamp] = Field(nullable=True)
    first_purchase_at: Series[Timestamp] = Field(nullable=True)

    class Config:
        strict = True

    @dataframe_check(name="session_end >= session_start")
    def ends_after_start(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(frame["session_end"] >= frame["session_start"],
                        frame["session_end"], frame["session_start"])

    @dataframe_check(name="duration_seconds = session_end - session_start")
    def duration_matches(cls, frame: pd.DataFrame) -> pd.Series:
        span = (frame["session_end"] - frame["session_start"]).dt.total_seconds()
        return _null_or((span - frame["duration_seconds"]).abs() < 1e-3, span)

    @dataframe_check(name="session_date is the UTC date of session_start")
    def date_of_start(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(_utc_date(frame["session_start"]) == frame["session_date"],
                        frame["session_start"], frame["session_date"])

    @dataframe_check(name="page_views <= events")
    def page_views_within_events(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(frame["page_views"] <= frame["events"], frame["page_views"], frame["events"])

    @dataframe_check(name="funnel steps fall inside the visit")
    def steps_inside_visit(cls, frame: pd.DataFrame) -> pd.Series:
        inside = pd.Series(True, index=frame.index)
        for step in FUNNEL_STEPS:
            at = frame[f"first_{step}_at"]
            inside &= at.isna() | ((at >= frame["session_start"]) & (at <= frame["session_end"]))
        return inside

    @dataframe_check(name="converted exactly when the visit has a purchase")
    def converted_means_purchase(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(frame["converted"] == frame["first_purchase_at"].notna(), frame["converted"])


class SilverIdentities(DataFrameModel):
    """A link between two ids of a person, as seen on one day."""

    link_date: Series[Date]
    anonymous_id: Series[str] = Field(str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    user_id: Series[str] = Field(str_length={"min_value": 1, "max_value": MAX_ID_LENGTH})
    source: Series[str] = Field(isin=IDENTITY_SOURCES)
    first_seen_at: Series[Timestamp]
    last_seen_at: Series[Timestamp]
    events: Series[pd.Int64Dtype] = Field(ge=1)

    class Config:
        strict = True
        unique = ("anonymous_id", "user_id", "source")

    @dataframe_check(name="last_seen_at >= first_seen_at")
    def last_after_first(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(frame["last_seen_at"] >= frame["first_seen_at"],
                        frame["last_seen_at"], frame["first_seen_at"])

    @dataframe_check(name="link_date is the UTC date of first_seen_at")
    def date_of_first(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(_utc_date(frame["first_seen_at"]) == frame["link_date"],
                        frame["first_seen_at"], frame["link_date"])


class GoldPageKpis(DataFrameModel):
    """Per page and day: traffic counts and the bounce rate of visits landing there."""

    event_date: Series[Date]
    page_path: Series[str]
    views: Series[pd.Int64Dtype] = Field(ge=0)
    unique_visitors: Series[pd.Int64Dtype] = Field(ge=0)
    clicks: Series[pd.Int64Dtype] = Field(ge=0)
    entrances: Series[pd.Int64Dtype] = Field(ge=0)
    bounces: Series[pd.Int64Dtype] = Field(ge=0)
    bounce_rate: Series[float] = Field(nullable=True, in_range={"min_value": 0, "max_value": 1})

    class Config:
        strict = True
        unique = ("event_date", "page_path")

    @dataframe_check(name="unique_visitors <= views")
    def visitors_within_views(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(frame["unique_visitors"] <= frame["views"], frame["unique_visitors"],
                        frame["views"])

    @dataframe_check(name="bounces <= entrances")
    def bounces_within_entrances(cls, frame: pd.DataFrame) -> pd.Series:
        return _null_or(frame["bounces"] <= frame["entrances"], frame["bounces"], frame["entrances"])

    @dataframe_check(name="bounce_rate = bounces / entrances (null without entrances)")
    def bounce_rate_matches(cls, frame: pd.DataFrame) -> pd.Series:
        entrances = frame["entrances"].astype("float64")
        expected = frame["bounces"].astype("float64") / entrances.where(entrances > 0)
        both_null = expected.isna() & frame["bounce_rate"].isna()
        return both_null | ((expected - frame["bounce_rate"]).abs() < 1e-9).fillna(False)


class GoldFunnel(DataFrameModel):
    """The shop funnel of a day: visits per step, monotone down the steps, and the rates."""

    event_date: Series[Date] = Field(unique=True)
    sessions: Series[pd.Int64Dtype] = Field(ge=0)
    page_view_sessions: Series[pd.Int64Dtype] = Field(ge=0)
    add_to_cart_sessions: Series[pd.Int64Dtype] = Field(ge=0)
    checkout_sessions: Series[pd.Int64Dtype] = Field(ge=0)
    purchase_sessions: Series[pd.Int64Dtype] = Field(ge=0)
    add_to_cart_rate: Series[float] = Field(nullable=True, in_range={"min_value": 0, "max_value": 1})
    checkout_rate: Series[float] = Field(nullable=True, in_range={"min_value": 0, "max_value": 1})
    purchase_rate: Series[float] = Field(nullable=True, in_range={"min_value": 0, "max_value": 1})
    conversion_rate: Series[float] = Field(nullable=True, in_range={"min_value": 0, "max_value": 1})
    revenue: Series[float] = Field(ge=0)

    class Config:
        strict = True

    @dataframe_check(name="funnel steps are monotone: sessions >= page_view_sessions >= "
                          "add_to_cart_sessions >= checkout_sessions >= purchase_sessions")
    def monotone(cls, frame: pd.DataFrame) -> pd.Series:
        counts = ["sessions", *(f"{step}_sessions" for step in FUNNEL_STEPS)]
        holds = pd.Series(True, index=frame.index)
        for wider, narrower in pairwise(counts):
            holds &= (frame[wider] >= frame[narrower]).fillna(False).astype(bool)
        return holds

    @dataframe_check(name="conversion_rate = purchase_sessions / page_view_sessions")
    def conversion_matches(cls, frame: pd.DataFrame) -> pd.Series:
        views = frame["page_view_sessions"].astype("float64")
        expected = frame["purchase_sessions"].astype("float64") / views.where(views > 0)
        both_null = expected.isna() & frame["conversion_rate"].isna()
        return both_null | ((expected - frame["conversion_rate"]).abs() < 1e-9).fillna(False)
