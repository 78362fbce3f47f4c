CREATE TABLE "event_feed" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"audit_id" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "event_feed_state" (
	"one" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"snapshot" "pg_snapshot" NOT NULL,
	CONSTRAINT "event_feed_state_one_check" CHECK ("event_feed_state"."one")
);
--> statement-breakpoint
ALTER TABLE "event_feed" ADD CONSTRAINT "event_feed_audit_id_events_id_fk" FOREIGN KEY ("audit_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "event_feed_audit_id_key" ON "event_feed" USING btree ("audit_id");--> statement-breakpoint
-- The live feed's sequencer (src/adapters/db/repositories/event-feed.ts; README, "The live feed's
-- order"). It places every audit row committed since the last call, and returns the last place.
-- New rows are exactly those the previous call's snapshot did not see: tx_id at or above its xmax,
-- or in its list of running transactions. So no transaction is ever waited for: a row is placed
-- once its transaction has committed, after everything placed before. Rows placed together are
-- ordered by id, which follows causality: a row written after another's commit has a higher id.
-- One caller at a time (the advisory lock); the rows are read by a statement of their own, whose
-- snapshot is taken after the lock, so it sees what the previous caller placed. All in one
-- function, so that no client round trip happens while the lock is held: a daemon that stalls
-- can never hold the feed up. A call that finds nothing new writes nothing. Under REPEATABLE READ
-- or SERIALIZABLE the read would use the transaction's snapshot, taken before the lock: refused.
CREATE FUNCTION "event_feed_advance"() RETURNS bigint LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
DECLARE
  prev pg_snapshot;
  head bigint;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'event_feed_advance() needs READ COMMITTED, not %', current_setting('transaction_isolation');
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('stratavore:event_feed', 0));
  SELECT snapshot INTO prev FROM event_feed_state;
  -- Both halves must be index scans of (tx_id, id): the planner cannot tell how few rows lie
  -- above xmax (xid8 has no histogram arithmetic) and would scan the whole log, hence the values
  -- in the plan (EXECUTE ... USING) and enable_seqscan off for this function (and jit off: the
  -- cost that turns seq scans away would otherwise spend a second compiling this small statement).
  EXECUTE '
    WITH fresh AS (
      SELECT id, row_number() OVER (ORDER BY id) AS n FROM (
        SELECT e.id FROM events e WHERE e.tx_id >= $1
        UNION ALL
        SELECT e.id FROM events e WHERE e.tx_id = ANY ($2) AND e.tx_id < $1
      ) s
    ),
    base AS (SELECT coalesce(max(seq), 0) AS seq FROM event_feed),
    placed AS (INSERT INTO event_feed (seq, audit_id) SELECT base.seq + fresh.n, fresh.id FROM fresh, base),
    moved AS (UPDATE event_feed_state SET snapshot = pg_current_snapshot() WHERE EXISTS (SELECT 1 FROM fresh))
    SELECT base.seq + (SELECT count(*) FROM fresh) FROM base'
  INTO head USING pg_snapshot_xmax(prev), ARRAY(SELECT pg_snapshot_xip(prev));
  RETURN head;
END
$$;
--> statement-breakpoint
-- The log as it stands is placed in the order the feed used until now, (tx_id, id), so a client
-- resuming across the upgrade with the last event it saw gets exactly what it had not; rows of
-- transactions still running are not visible to this statement's snapshot, and get placed later.
WITH placed AS (INSERT INTO event_feed (seq, audit_id) SELECT row_number() OVER (ORDER BY tx_id, id), id FROM events)
INSERT INTO event_feed_state (one, snapshot) VALUES (true, pg_current_snapshot());
