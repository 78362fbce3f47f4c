-- Fleet counters for /metrics (src/adapters/db/repositories/metrics.ts; README, "Metrics").
-- A scrape must never count whole tables, and runners, sessions and token totals grow without
-- bound. So statement triggers append what each statement changed to metric_counter_deltas:
--   runners          <status>  +1 / -1 as runners enter and leave a status (a gauge; deletes count)
--   runner_failures  ''        +1 each time a runner enters failed (never decremented)
--   sessions         ''        +1 per session recorded (never decremented)
--   tokens           <project> what a statement added to runners.tokens_used (never decremented)
-- Only inserts: no writer ever waits on a shared counter row, so the launch path (which holds a
-- project's advisory lock) and the supervisor's transitions cannot deadlock on them. A rollup
-- (one statement, any daemon) moves the deltas into metric_counters; readers add both tables in
-- one statement, so each delta is counted once whatever rollup runs meanwhile.
CREATE FUNCTION "metric_counts_runners_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO metric_counter_deltas (name, label, delta)
    SELECT 'runners', status, count(*) FROM new_rows GROUP BY status
    UNION ALL SELECT 'runner_failures', '', count(*) FROM new_rows WHERE status = 'failed' HAVING count(*) > 0
    UNION ALL SELECT 'tokens', project_name, sum(tokens_used) FROM new_rows GROUP BY project_name HAVING sum(tokens_used) <> 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Every heartbeat statement fires this once (not once per row): a join of the statement's own
-- rows, and nothing written when no status or token total moved.
CREATE FUNCTION "metric_counts_runners_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO metric_counter_deltas (name, label, delta)
    SELECT name, label, sum(delta) FROM (
      SELECT 'runners' AS name, o.status AS label, -1::bigint AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status <> o.status
      UNION ALL SELECT 'runners', n.status, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status <> o.status
      UNION ALL SELECT 'runner_failures', '', 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.status = 'failed' AND o.status <> 'failed'
      UNION ALL SELECT 'tokens', n.project_name, n.tokens_used - o.tokens_used FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE n.tokens_used > o.tokens_used
    ) d
    GROUP BY name, label HAVING sum(delta) <> 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "metric_counts_runners_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO metric_counter_deltas (name, label, delta)
    SELECT 'runners', status, -count(*) FROM old_rows GROUP BY status;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "metric_counts_sessions_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO metric_counter_deltas (name, label, delta)
    SELECT 'sessions', '', count(*) FROM new_rows HAVING count(*) > 0;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "runners_metric_counts_inserted" AFTER INSERT ON "runners" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "metric_counts_runners_inserted"();
--> statement-breakpoint
CREATE TRIGGER "runners_metric_counts_updated" AFTER UPDATE ON "runners" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "metric_counts_runners_updated"();
--> statement-breakpoint
CREATE TRIGGER "runners_metric_counts_deleted" AFTER DELETE ON "runners" REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "metric_counts_runners_deleted"();
--> statement-breakpoint
CREATE TRIGGER "sessions_metric_counts_inserted" AFTER INSERT ON "sessions" REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "metric_counts_sessions_inserted"();
--> statement-breakpoint
-- What exists already, counted once here (the triggers above hold the tables' writers off until
-- this migration commits, so nothing is counted twice or missed).
INSERT INTO metric_counters (name, label, value)
  SELECT 'runners', status, count(*) FROM runners GROUP BY status
  UNION ALL SELECT 'runner_failures', '', count(*) FROM runners WHERE status = 'failed'
  UNION ALL SELECT 'sessions', '', count(*) FROM sessions
  UNION ALL SELECT 'tokens', project_name, sum(tokens_used) FROM runners GROUP BY project_name;
