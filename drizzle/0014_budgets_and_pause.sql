CREATE TABLE "budget_periods" (
	"budget_id" uuid NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"limit_tokens" bigint NOT NULL,
	"used_tokens" bigint NOT NULL,
	"closed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "budget_periods_budget_id_period_start_pk" PRIMARY KEY("budget_id","period_start")
);
--> statement-breakpoint
CREATE TABLE "budgets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"scope_id" text DEFAULT '' NOT NULL,
	"period" text NOT NULL,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"limit_tokens" bigint NOT NULL,
	"warning_percent" integer DEFAULT 80 NOT NULL,
	"used_tokens" bigint DEFAULT 0 NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"event_seq" bigint DEFAULT 1 NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "budgets_scope_check" CHECK ("budgets"."scope" in ('global', 'project', 'agent')),
	CONSTRAINT "budgets_global_scope_id_check" CHECK (("budgets"."scope" = 'global') = ("budgets"."scope_id" = '')),
	CONSTRAINT "budgets_period_check" CHECK ("budgets"."period" in ('day', 'week', 'month', 'total')),
	CONSTRAINT "budgets_limit_check" CHECK ("budgets"."limit_tokens" >= 0),
	CONSTRAINT "budgets_warning_percent_check" CHECK ("budgets"."warning_percent" between 1 and 100)
);
--> statement-breakpoint
-- Budgets made with SQL in the old table are carried over (global and project scopes with a
-- period that still exists; hourly and per-runner budgets have no equivalent and are dropped).
INSERT INTO "budgets" ("id", "scope", "scope_id", "period", "limit_tokens", "used_tokens", "period_start", "period_end", "created_by")
SELECT DISTINCT ON ("scope", "scope_id", "period_granularity") gen_random_uuid(), "scope", "scope_id",
  CASE "period_granularity" WHEN 'daily' THEN 'day' WHEN 'weekly' THEN 'week' ELSE 'month' END,
  "limit_tokens", "used_tokens", "period_start", "period_end", 'migration'
FROM "token_budgets"
WHERE "scope" in ('global', 'project') AND "period_granularity" in ('daily', 'weekly', 'monthly')
ORDER BY "scope", "scope_id", "period_granularity", "updated_at" DESC;--> statement-breakpoint
ALTER TABLE "token_budgets" DISABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP TABLE "token_budgets" CASCADE;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "pause_reason" text;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "paused_budget_id" uuid;--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "paused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "budget_periods" ADD CONSTRAINT "budget_periods_budget_id_budgets_id_fk" FOREIGN KEY ("budget_id") REFERENCES "public"."budgets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "budgets_scope_period_key" ON "budgets" USING btree ("scope","scope_id","period");--> statement-breakpoint
CREATE INDEX "budgets_period_end_idx" ON "budgets" USING btree ("period_end");--> statement-breakpoint
ALTER TABLE "runners" ADD CONSTRAINT "runners_paused_budget_id_budgets_id_fk" FOREIGN KEY ("paused_budget_id") REFERENCES "public"."budgets"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "runners_paused_idx" ON "runners" USING btree ("paused_at","id") WHERE "runners"."status" = 'paused';--> statement-breakpoint
-- A project's max_tokens_per_day becomes its daily budget, unless it already has one.
INSERT INTO "budgets" ("id", "scope", "scope_id", "period", "limit_tokens", "period_start", "period_end", "created_by")
SELECT gen_random_uuid(), 'project', "project_name", 'day', "max_tokens_per_day",
  date_trunc('day', now() at time zone 'UTC') at time zone 'UTC', (date_trunc('day', now() at time zone 'UTC') + interval '1 day') at time zone 'UTC', 'migration'
FROM "resource_quotas" WHERE "max_tokens_per_day" is not null
ON CONFLICT DO NOTHING;--> statement-breakpoint
ALTER TABLE "resource_quotas" DROP COLUMN "max_cpu_percent";--> statement-breakpoint
ALTER TABLE "resource_quotas" DROP COLUMN "max_tokens_per_day";--> statement-breakpoint
ALTER TABLE "resource_quotas" ADD CONSTRAINT "resource_quotas_max_memory_check" CHECK ("resource_quotas"."max_memory_mb" is null or "resource_quotas"."max_memory_mb" > 0);--> statement-breakpoint
ALTER TABLE "runners" ADD CONSTRAINT "runners_pause_reason_check" CHECK ("runners"."pause_reason" in ('budget', 'memory', 'manual'));