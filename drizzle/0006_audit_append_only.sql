-- Written by hand (drizzle-kit generate --custom): the audit log is append-only. Every UPDATE,
-- DELETE or TRUNCATE of "events" raises, whoever runs it, the table's owner included, until
-- the trigger is disabled or dropped, which only the owner or a superuser can do; the daemon
-- also revokes those privileges from its own role when it owns the table
-- (src/adapters/db/audit-guard.ts). A statement-level trigger: a DELETE matching no row is
-- refused as well, and no per-row cost is paid. A later migration that must change rows has to
-- disable the trigger around the change, in the open.
CREATE FUNCTION "events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on events is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;--> statement-breakpoint
CREATE TRIGGER "events_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "events"
  FOR EACH STATEMENT EXECUTE FUNCTION "events_append_only"();
