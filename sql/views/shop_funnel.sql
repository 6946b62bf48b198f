-- The shop funnel per day as one row per step (page_view -> add_to_cart -> checkout ->
-- purchase), from gold: visits reaching the step in order, the rate from the previous
-- step and from the first step. Bots excluded (gold excludes them).
CREATE OR REPLACE VIEW shop_funnel AS
SELECT event_date, 1 AS step_number, 'page_view' AS step, page_view_sessions AS sessions,
       CAST(NULL AS double) AS rate_from_previous,
       CAST(page_view_sessions AS double) / nullif(page_view_sessions, 0) AS rate_from_start
FROM gold_funnel
UNION ALL
SELECT event_date, 2, 'add_to_cart', add_to_cart_sessions, add_to_cart_rate,
       CAST(add_to_cart_sessions AS double) / nullif(page_view_sessions, 0)
FROM gold_funnel
UNION ALL
SELECT event_date, 3, 'checkout', checkout_sessions, checkout_rate,
       CAST(checkout_sessions AS double) / nullif(page_view_sessions, 0)
FROM gold_funnel
UNION ALL
SELECT event_date, 4, 'purchase', purchase_sessions, purchase_rate, conversion_rate
FROM gold_funnel
