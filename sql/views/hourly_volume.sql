-- Events per hour of event time, from bronze: the series the volume anomaly check scores
-- and the dashboard charts. Filter on event_date so only the partitions needed are read.
CREATE OR REPLACE VIEW hourly_volume AS
SELECT
  event_date,
  date_trunc('hour', event_time) AS hour,
  count(*) AS events,
  count(DISTINCT anonymous_id) AS visitors,
  count_if(is_bot) AS bot_events
FROM bronze_events
GROUP BY event_date, date_trunc('hour', event_time)
