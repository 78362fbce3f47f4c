ALTER TABLE "runners" DROP CONSTRAINT "runners_pause_reason_check";--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "resets_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "resume_after_limit" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "limit_account" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "resume_message" text;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "limit_resumed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "runners_limit_account_idx" ON "runners" USING btree ("agent","limit_account") WHERE "runners"."status" not in ('terminated', 'failed');--> statement-breakpoint
ALTER TABLE "runners" ADD CONSTRAINT "runners_pause_reason_check" CHECK ("runners"."pause_reason" in ('budget', 'memory', 'manual', 'usage_limit'));