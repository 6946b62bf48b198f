-- Daily traffic and conversion, bots excluded: one row per UTC day, from silver sessions.
-- bounce_rate: visits with exactly one page view among visits with any page view;
-- conversion_rate: visits with a purchase among all visits.
CREATE OR REPLACE VIEW daily_kpis AS
SELECT
  session_date AS event_date,
  count(*) AS sessions,
  count(DISTINCT anonymous_id) AS visitors,
  sum(page_views) AS page_views,
  sum(events) AS events,
  avg(duration_seconds) AS avg_session_seconds,
  CAST(count_if(page_views = 1) AS double) / nullif(count_if(page_views >= 1), 0) AS bounce_rate,
  count_if(converted) AS conversions,
  CAST(count_if(converted) AS double) / count(*) AS conversion_rate,
  sum(revenue) AS revenue
FROM silver_sessions
WHERE NOT is_bot
GROUP BY session_date
