ALTER TABLE "runners" ADD COLUMN "activity_state" text DEFAULT 'unknown' NOT NULL;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "activity_source" text;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "activity_detail" text;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "activity_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "activity_resets_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "runners_waiting_idx" ON "runners" USING btree ("activity_since","id") WHERE "runners"."status" = 'running' and "runners"."activity_state" in ('waiting_permission', 'waiting_input');--> statement-breakpoint
ALTER TABLE "runners" ADD CONSTRAINT "runners_activity_state_check" CHECK ("runners"."activity_state" in ('working', 'waiting_permission', 'waiting_input', 'idle', 'rate_limited', 'error', 'unknown'));