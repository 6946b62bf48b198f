"""Silver and gold as plain functions of DataFrames: sessions, page KPIs and the shop funnel.

They run on whatever Spark the Dagster resource provides (local, Glue, EMR), one day at a
time. Sessions are cut at midnight UTC, as web analytics tools traditionally do: a day's
partition then depends on that day's events only, so a late event re-builds exactly one
partition.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

SESSION_GAP_SECONDS = 30 * 60
FUNNEL_STEPS = ("page_view", "add_to_cart", "checkout", "purchase")
REVENUE_KEYS = ("revenue", "order_value", "value")

SESSION_COLUMNS = (
    "session_date", "session_key", "anonymous_id", "user_id", "session_start", "session_end",
    "duration_seconds", "events", "page_views", "entry_page", "exit_page", "converted",
    "revenue", "utm_source", "utm_campaign", "referrer_host", "ua_device", "is_bot",
    *(f"first_{step}_at" for step in FUNNEL_STEPS),
)
PAGE_KPI_COLUMNS = (
    "event_date", "page_path", "views", "unique_visitors", "clicks", "entrances", "bounces",
    "bounce_rate",
)
IDENTITY_COLUMNS = (
    "link_date", "anonymous_id", "user_id", "source", "first_seen_at", "last_seen_at", "events",
)
# How Segment's identity messages reach bronze (streaming/ingest/segment.py): as custom event
# types, an alias's previous id in its properties.
IDENTIFY_EVENT = "custom:identify"
ALIAS_EVENT = "custom:alias"
PREVIOUS_ID = "previousId"
IDENTITY_SOURCES = ("identify", "alias", "event")
FUNNEL_COLUMNS = (
    "event_date", "sessions", *(f"{step}_sessions" for step in FUNNEL_STEPS),
    "add_to_cart_rate", "checkout_rate", "purchase_rate", "conversion_rate", "revenue",
)


def _first_of(columns: list[str], value: Column, when: Column) -> Column:
    """The value at the earliest event satisfying `when` (min of a struct ignores nulls)."""
    return F.min(F.when(when, F.struct(*columns, value.alias("v"))))["v"]


def _last_of(columns: list[str], value: Column, when: Column) -> Column:
    return F.max(F.when(when, F.struct(*columns, value.alias("v"))))["v"]


def _revenue() -> Column:
    amount = F.coalesce(*[F.col("properties")[key] for key in REVENUE_KEYS])
    return F.when(F.col("event_type") == "purchase", amount.try_cast("double"))


def known_users(links: DataFrame) -> DataFrame:
    """Identity links -> per anonymous_id, the user_id it was last seen with (one row each)."""
    return links.groupBy("anonymous_id").agg(
        F.max_by("user_id", F.struct("last_seen_at", "user_id")).alias("linked_user_id"))


def sessionize(events: DataFrame, links: DataFrame | None = None) -> DataFrame:
    """Bronze events of one day -> one row per visit (30 minutes of inactivity end a visit).

    A visit's user_id is the one its events carry, else the one its visitor was linked to
    (`links`, silver_identities: any day, so a visitor who identified later is known in the
    visits before it).

    Bots stay in (flagged): excluding them is a reporting choice, made in gold and SQL.
    """
    order = ["event_time", "event_id"]
    visitor = Window.partitionBy("anonymous_id").orderBy(*order)
    gap = F.col("event_time").cast("long") - F.lag("event_time").over(visitor).cast("long")
    marked = events.withColumn("new_visit", F.when(gap.isNull() | (gap > SESSION_GAP_SECONDS), 1)
                               .otherwise(0))
    marked = marked.withColumn("visit", F.sum("new_visit").over(
        visitor.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
    is_page = F.col("event_type") == "page_view"
    firsts = [F.min(F.when(F.col("event_type") == step, F.col("event_time")))
              .alias(f"first_{step}_at") for step in FUNNEL_STEPS]
    sessions = marked.groupBy("anonymous_id", "visit").agg(
        F.min("event_time").alias("session_start"),
        F.max("event_time").alias("session_end"),
        F.count(F.lit(1)).alias("events"),
        F.sum(is_page.cast("int")).alias("page_views"),
        _first_of(order, F.col("page_path"), is_page).alias("entry_page"),
        _last_of(order, F.col("page_path"), is_page).alias("exit_page"),
        F.max(F.col("event_type") == "purchase").alias("converted"),
        F.sum(_revenue()).alias("revenue"),
        F.max("user_id").alias("user_id"),
        _first_of(order, F.col("utm_source"), F.lit(True)).alias("utm_source"),
        _first_of(order, F.col("utm_campaign"), F.lit(True)).alias("utm_campaign"),
        _first_of(order, F.col("referrer_host"), F.lit(True)).alias("referrer_host"),
        _first_of(order, F.col("ua_device"), F.lit(True)).alias("ua_device"),
        F.max(F.coalesce(F.col("is_bot"), F.lit(False))).alias("is_bot"),
        *firsts,
    )
    if links is not None:
        sessions = (sessions.join(known_users(links), "anonymous_id", "left")
                    .withColumn("user_id", F.coalesce("user_id", "linked_user_id")))
    return sessions.select(
        F.to_date("session_start").alias("session_date"),
        F.sha2(F.concat_ws("|", "anonymous_id", F.col("session_start").cast("string")), 256)
        .substr(1, 32).alias("session_key"),
        "anonymous_id", "user_id", "session_start", "session_end",
        (F.col("session_end").cast("double") - F.col("session_start").cast("double"))
        .alias("duration_seconds"),
        "events", "page_views", "entry_page", "exit_page", "converted",
        F.coalesce(F.col("revenue"), F.lit(0.0)).alias("revenue"),
        "utm_source", "utm_campaign", "referrer_host", "ua_device", "is_bot",
        *(f"first_{step}_at" for step in FUNNEL_STEPS),
    )


def identity_links(events: DataFrame) -> DataFrame:
    """Bronze events of one day -> one row per link between two ids of a person and the way
    it was seen, with when it was first and last seen that day.

    A link is an event that carries both an anonymous_id and a user_id (source `identify` for
    a Segment identify, `event` for any other), or a Segment alias, which links its previous
    id to the user id (`alias`; the previous id, an anonymous or an earlier user id, is kept
    in `anonymous_id`). Erasure resolves a person through these links, so ids are kept
    exactly as sent.
    """
    carried = events.filter(F.col("user_id").isNotNull()).select(
        "anonymous_id", "user_id", "event_time",
        F.when(F.col("event_type") == IDENTIFY_EVENT, "identify").otherwise("event")
        .alias("source"))
    previous = F.col("properties")[PREVIOUS_ID]
    aliased = events.filter((F.col("event_type") == ALIAS_EVENT) & previous.isNotNull()
                            & F.col("user_id").isNotNull()).select(
        previous.alias("anonymous_id"), "user_id", "event_time", F.lit("alias").alias("source"))
    links = carried.unionByName(aliased).groupBy("anonymous_id", "user_id", "source").agg(
        F.min("event_time").alias("first_seen_at"), F.max("event_time").alias("last_seen_at"),
        F.count(F.lit(1)).alias("events"))
    return links.select(F.to_date("first_seen_at").alias("link_date"), *IDENTITY_COLUMNS[1:])


def page_kpis(events: DataFrame, sessions: DataFrame) -> DataFrame:
    """Per page and day: views, unique visitors, clicks, and bounce rate of visits landing there.

    Pages only reached by other events (a checkout step without a page view) are left out.
    A bounce is a visit with a single page view; its rate is bounces / entrances of the page.
    """
    humans = events.filter(~F.coalesce(F.col("is_bot"), F.lit(False)))
    traffic = humans.filter(F.col("page_path").isNotNull()).groupBy("event_date", "page_path").agg(
        F.sum((F.col("event_type") == "page_view").cast("int")).alias("views"),
        F.countDistinct(F.when(F.col("event_type") == "page_view", F.col("anonymous_id")))
        .alias("unique_visitors"),
        F.sum((F.col("event_type") == "click").cast("int")).alias("clicks"),
    )
    landings = sessions.filter(~F.col("is_bot") & F.col("entry_page").isNotNull()).groupBy(
        F.col("session_date").alias("event_date"), F.col("entry_page").alias("page_path")).agg(
        F.count(F.lit(1)).alias("entrances"),
        F.sum((F.col("page_views") == 1).cast("int")).alias("bounces"),
    )
    joined = traffic.join(landings, ["event_date", "page_path"], "full_outer").fillna(
        0, ["views", "unique_visitors", "clicks", "entrances", "bounces"])
    joined = joined.filter((F.col("views") + F.col("clicks") + F.col("entrances")) > 0)
    return joined.select(
        "event_date", "page_path", *(F.col(c).cast("long").alias(c) for c in (
            "views", "unique_visitors", "clicks", "entrances", "bounces")),
        F.when(F.col("entrances") > 0, F.col("bounces") / F.col("entrances")).alias("bounce_rate"),
    )


def funnel(sessions: DataFrame) -> DataFrame:
    """Sessions reaching each step in order (a step counts only after the previous one).

    Step counts are monotone by construction: reaching step k requires having reached k-1.
    """
    humans = sessions.filter(~F.col("is_bot"))
    reached: list[Column] = []
    previous_time: Column | None = None
    previous: Column | None = None
    for step in FUNNEL_STEPS:
        at = F.col(f"first_{step}_at")
        here = at.isNotNull() if previous is None else previous & at.isNotNull() & (
            at >= previous_time)
        reached.append(F.sum(here.cast("int")).cast("long").alias(f"{step}_sessions"))
        previous, previous_time = here, at
    counts = humans.groupBy(F.col("session_date").alias("event_date")).agg(
        F.count(F.lit(1)).cast("long").alias("sessions"), *reached,
        F.sum("revenue").alias("revenue"))

    def rate(numerator: str, denominator: str) -> Column:
        return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))

    return counts.select(
        "event_date", "sessions", *(f"{step}_sessions" for step in FUNNEL_STEPS),
        rate("add_to_cart_sessions", "page_view_sessions").alias("add_to_cart_rate"),
        rate("checkout_sessions", "add_to_cart_sessions").alias("checkout_rate"),
        rate("purchase_sessions", "checkout_sessions").alias("purchase_rate"),
        rate("purchase_sessions", "page_view_sessions").alias("conversion_rate"),
        F.coalesce(F.col("revenue"), F.lit(0.0)).alias("revenue"),
    )
