CREATE TABLE "alerts" (
	"key" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"severity" text NOT NULL,
	"state" text NOT NULL,
	"summary" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"fired_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	"event_seq" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "alerts_state_check" CHECK ("alerts"."state" in ('firing', 'resolved')),
	CONSTRAINT "alerts_severity_check" CHECK ("alerts"."severity" in ('info', 'warning', 'error', 'critical'))
);
--> statement-breakpoint
CREATE TABLE "metric_counter_deltas" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"label" text DEFAULT '' NOT NULL,
	"delta" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metric_counters" (
	"name" text NOT NULL,
	"label" text DEFAULT '' NOT NULL,
	"value" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "metric_counters_name_label_pk" PRIMARY KEY("name","label")
);
--> statement-breakpoint
CREATE TABLE "metrics_leader" (
	"one" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"daemon_id" uuid NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "metrics_leader_one_check" CHECK ("metrics_leader"."one")
);
--> statement-breakpoint
CREATE INDEX "alerts_firing_idx" ON "alerts" USING btree ("name") WHERE "alerts"."state" = 'firing';--> statement-breakpoint
CREATE INDEX "daemon_instances_live_idx" ON "daemon_instances" USING btree ("last_heartbeat") WHERE "daemon_instances"."stopped_at" is null;--> statement-breakpoint
CREATE INDEX "outbox_dead_idx" ON "outbox" USING btree ("id") WHERE "outbox"."dead_at" is not null;--> statement-breakpoint
CREATE INDEX "runners_failed_idx" ON "runners" USING btree ("terminated_at") WHERE "runners"."status" = 'failed';--> statement-breakpoint
CREATE INDEX "token_budgets_period_end_idx" ON "token_budgets" USING btree ("period_end");