-- Visits per day by first-touch source and UTM campaign, bots excluded. source is the
-- visit's utm_source, else its referrer host, else '(direct)'; campaign is utm_campaign
-- or '(none)'.
CREATE OR REPLACE VIEW sessions_by_source AS
SELECT
  session_date AS event_date,
  coalesce(utm_source, referrer_host, '(direct)') AS source,
  coalesce(utm_campaign, '(none)') AS campaign,
  count(*) AS sessions,
  count(DISTINCT anonymous_id) AS visitors,
  count_if(converted) AS conversions,
  CAST(count_if(converted) AS double) / count(*) AS conversion_rate,
  sum(revenue) AS revenue
FROM silver_sessions
WHERE NOT is_bot
GROUP BY session_date, coalesce(utm_source, referrer_host, '(direct)'), coalesce(utm_campaign, '(none)')
