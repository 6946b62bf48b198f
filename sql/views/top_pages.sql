-- Pages per day ranked by page views (ties broken by path), bots excluded, from gold page
-- KPIs: views, unique visitors, clicks, entrances and bounce rate of visits landing there.
CREATE OR REPLACE VIEW top_pages AS
SELECT
  event_date,
  page_path,
  views,
  unique_visitors,
  clicks,
  entrances,
  bounce_rate,
  row_number() OVER (PARTITION BY event_date ORDER BY views DESC, page_path) AS view_rank
FROM gold_page_kpis
