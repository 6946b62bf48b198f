-- Live traffic: events per minute of event time, from bronze (bots included and counted
-- separately). Filter on event_date so only the partitions needed are read.
CREATE OR REPLACE VIEW events_per_minute AS
SELECT
  event_date,
  date_trunc('minute', event_time) AS minute,
  count(*) AS events,
  count_if(event_type = 'page_view') AS page_views,
  count(DISTINCT anonymous_id) AS visitors,
  count_if(is_bot) AS bot_events
FROM bronze_events
GROUP BY event_date, date_trunc('minute', event_time)
