"""The instant a run looks back from: the volume checks and the dashboard score the whole hours
before it. Left empty it is the run's start; a past instant re-scores the hours as they stood
then (after an incident, for a report of a given day, or to rebuild a page reproducibly),
since the scores depend only on the hours before it."""

from datetime import UTC, datetime

from dagster import Config, Failure


class AsOf(Config):
    as_of: str | None = None

    def instant(self) -> datetime:
        if self.as_of is None:
            return datetime.now(UTC)
        try:
            moment = datetime.fromisoformat(self.as_of)
        except ValueError:
            raise Failure(f"as_of {self.as_of!r} is not an ISO-8601 time, e.g. "
                          "2026-11-29T16:00:00+00:00") from None
        if moment.tzinfo is None:
            raise Failure(f"as_of {self.as_of!r} has no time zone: add +00:00 or Z")
        return moment.astimezone(UTC)
