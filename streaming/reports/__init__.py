"""Pages for people: the data-quality report of each check run and the KPI dashboard, written as
static HTML with Chart.js (from npm, served locally) and served by the gateway under /reports."""
