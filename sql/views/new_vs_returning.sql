-- New and returning visitors per day, bots excluded: a visitor is new on the first day the
-- lakehouse has a visit of theirs (anonymous_id), returning on every later day.
CREATE OR REPLACE VIEW new_vs_returning AS
WITH first_seen AS (
  SELECT anonymous_id, min(session_date) AS first_date
  FROM silver_sessions
  WHERE NOT is_bot
  GROUP BY anonymous_id
)
SELECT
  s.session_date AS event_date,
  CASE WHEN s.session_date = f.first_date THEN 'new' ELSE 'returning' END AS visitor_type,
  count(DISTINCT s.anonymous_id) AS visitors,
  count(*) AS sessions,
  count_if(s.converted) AS conversions,
  sum(s.revenue) AS revenue
FROM silver_sessions AS s
JOIN first_seen AS f ON s.anonymous_id = f.anonymous_id
WHERE NOT s.is_bot
GROUP BY s.session_date, CASE WHEN s.session_date = f.first_date THEN 'new' ELSE 'returning' END
