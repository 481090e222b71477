-- A session is a visitor's run of events with no gap longer than 30 minutes (1,800,000 ms).
-- Derived at query time, so late and out-of-order events land in the right session.
CREATE VIEW `sessions` AS
WITH marked AS (
	SELECT site, visitor, id, ts, name,
		CASE WHEN ts - LAG(ts) OVER (PARTITION BY site, visitor ORDER BY ts, id) <= 1800000 THEN 0 ELSE 1 END AS is_start
	FROM events
), numbered AS (
	SELECT site, visitor, ts, name,
		SUM(is_start) OVER (PARTITION BY site, visitor ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS session_no
	FROM marked
)
SELECT site, visitor, session_no,
	visitor || ':' || MIN(ts) AS session_id,
	MIN(ts) AS started_at,
	MAX(ts) AS ended_at,
	COUNT(*) AS events,
	SUM(name = 'page_view') AS page_views
FROM numbered
GROUP BY site, visitor, session_no;
