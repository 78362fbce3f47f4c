CREATE TABLE "daemon_instances" (
	"id" uuid PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"pid" integer NOT NULL,
	"version" text NOT NULL,
	"roles" text[] NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_heartbeat" timestamp with time zone DEFAULT now() NOT NULL,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"project" text,
	"actor" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"data" jsonb NOT NULL,
	"key_id" text,
	"prev_mac" text,
	"mac" text
);
--> statement-breakpoint
CREATE TABLE "node_join_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"issued_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"node_id" uuid
);
--> statement-breakpoint
CREATE TABLE "nodes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"hostname" text NOT NULL,
	"version" text NOT NULL,
	"capacity" integer DEFAULT 60 NOT NULL,
	"status" text DEFAULT 'ready' NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"credential_hash" text,
	"registered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_heartbeat" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "nodes_status_check" CHECK ("nodes"."status" in ('ready', 'lost', 'down'))
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"routing_key" text NOT NULL,
	"aggregate_type" text NOT NULL,
	"aggregate_id" text NOT NULL,
	"seq" integer NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 10 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"dead_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "project_capabilities" (
	"project_name" text NOT NULL,
	"capability" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "project_capabilities_project_name_capability_pk" PRIMARY KEY("project_name","capability")
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"name" text PRIMARY KEY NOT NULL,
	"path" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"archived" boolean DEFAULT false NOT NULL,
	"event_seq" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_accessed_at" timestamp with time zone,
	"archived_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "resource_quotas" (
	"project_name" text PRIMARY KEY NOT NULL,
	"max_concurrent_runners" integer DEFAULT 5 NOT NULL,
	"max_memory_mb" bigint,
	"max_cpu_percent" integer,
	"max_tokens_per_day" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "resource_quotas_max_runners_check" CHECK ("resource_quotas"."max_concurrent_runners" >= 0)
);
--> statement-breakpoint
CREATE TABLE "runners" (
	"id" uuid PRIMARY KEY NOT NULL,
	"project_name" text NOT NULL,
	"project_path" text NOT NULL,
	"agent" text NOT NULL,
	"runtime_type" text DEFAULT 'process' NOT NULL,
	"runtime_id" text DEFAULT '' NOT NULL,
	"node_id" uuid,
	"status" text DEFAULT 'pending' NOT NULL,
	"desired_state" text DEFAULT 'running' NOT NULL,
	"flags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"capabilities" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"environment" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"conversation_mode" text DEFAULT 'new' NOT NULL,
	"session_id" text,
	"god" boolean DEFAULT false NOT NULL,
	"prompt" text,
	"tokens_used" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"cache_read_tokens" bigint DEFAULT 0 NOT NULL,
	"cache_creation_tokens" bigint DEFAULT 0 NOT NULL,
	"cpu_percent" real DEFAULT 0 NOT NULL,
	"memory_mb" integer DEFAULT 0 NOT NULL,
	"restart_attempts" integer DEFAULT 0 NOT NULL,
	"max_restart_attempts" integer DEFAULT 3 NOT NULL,
	"heartbeat_ttl_seconds" integer DEFAULT 30 NOT NULL,
	"generation" integer DEFAULT 0 NOT NULL,
	"event_seq" integer DEFAULT 0 NOT NULL,
	"stop_force" boolean DEFAULT false NOT NULL,
	"stop_timeout_seconds" integer,
	"stop_requested_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"last_heartbeat" timestamp with time zone,
	"terminated_at" timestamp with time zone,
	"exit_code" integer,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "runners_status_check" CHECK ("runners"."status" in ('pending', 'starting', 'running', 'paused', 'stopping', 'lost', 'terminated', 'failed')),
	CONSTRAINT "runners_desired_state_check" CHECK ("runners"."desired_state" in ('running', 'stopped')),
	CONSTRAINT "runners_conversation_mode_check" CHECK ("runners"."conversation_mode" in ('new', 'continue', 'resume'))
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"runner_id" uuid,
	"project_name" text NOT NULL,
	"agent" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"last_message_at" timestamp with time zone,
	"message_count" integer DEFAULT 0 NOT NULL,
	"tokens_used" bigint DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"cache_read_tokens" bigint DEFAULT 0 NOT NULL,
	"cache_creation_tokens" bigint DEFAULT 0 NOT NULL,
	"resumable" boolean DEFAULT true NOT NULL,
	"resumed_from" text,
	"summary" text,
	"transcript_path" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "token_budgets" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"scope" text NOT NULL,
	"scope_id" text DEFAULT '' NOT NULL,
	"limit_tokens" bigint NOT NULL,
	"used_tokens" bigint DEFAULT 0 NOT NULL,
	"period_granularity" text NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "token_budgets_scope_check" CHECK ("token_budgets"."scope" in ('global', 'project', 'runner')),
	CONSTRAINT "token_budgets_global_scope_id_check" CHECK (("token_budgets"."scope" = 'global') = ("token_budgets"."scope_id" = '')),
	CONSTRAINT "token_budgets_granularity_check" CHECK ("token_budgets"."period_granularity" in ('hourly', 'daily', 'weekly', 'monthly')),
	CONSTRAINT "token_budgets_limit_check" CHECK ("token_budgets"."limit_tokens" >= 0)
);
--> statement-breakpoint
ALTER TABLE "node_join_tokens" ADD CONSTRAINT "node_join_tokens_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "project_capabilities" ADD CONSTRAINT "project_capabilities_project_name_projects_name_fk" FOREIGN KEY ("project_name") REFERENCES "public"."projects"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "resource_quotas" ADD CONSTRAINT "resource_quotas_project_name_projects_name_fk" FOREIGN KEY ("project_name") REFERENCES "public"."projects"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runners" ADD CONSTRAINT "runners_project_name_projects_name_fk" FOREIGN KEY ("project_name") REFERENCES "public"."projects"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runners" ADD CONSTRAINT "runners_node_id_nodes_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."nodes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_runner_id_runners_id_fk" FOREIGN KEY ("runner_id") REFERENCES "public"."runners"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_project_name_projects_name_fk" FOREIGN KEY ("project_name") REFERENCES "public"."projects"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "events_event_id_key" ON "events" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "events_entity_idx" ON "events" USING btree ("entity_type","entity_id");--> statement-breakpoint
CREATE INDEX "events_occurred_idx" ON "events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "node_join_tokens_unused_idx" ON "node_join_tokens" USING btree ("expires_at") WHERE "node_join_tokens"."used_at" is null and "node_join_tokens"."revoked_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "nodes_name_key" ON "nodes" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "outbox_event_id_key" ON "outbox" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "outbox_pending_idx" ON "outbox" USING btree ("next_attempt_at","id") WHERE "outbox"."delivered_at" is null and "outbox"."dead_at" is null;--> statement-breakpoint
CREATE INDEX "outbox_aggregate_idx" ON "outbox" USING btree ("aggregate_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "projects_path_key" ON "projects" USING btree ("path");--> statement-breakpoint
CREATE INDEX "runners_project_idx" ON "runners" USING btree ("project_name","id");--> statement-breakpoint
CREATE INDEX "runners_active_idx" ON "runners" USING btree ("project_name") WHERE "runners"."status" not in ('terminated', 'failed');--> statement-breakpoint
CREATE INDEX "runners_node_idx" ON "runners" USING btree ("node_id") WHERE "runners"."status" not in ('terminated', 'failed');--> statement-breakpoint
CREATE INDEX "runners_heartbeat_idx" ON "runners" USING btree ("last_heartbeat") WHERE "runners"."status" in ('starting', 'running', 'paused', 'stopping', 'lost');--> statement-breakpoint
CREATE INDEX "sessions_project_idx" ON "sessions" USING btree ("project_name","last_message_at");--> statement-breakpoint
CREATE INDEX "sessions_runner_idx" ON "sessions" USING btree ("runner_id");--> statement-breakpoint
CREATE UNIQUE INDEX "token_budgets_scope_period_key" ON "token_budgets" USING btree ("scope","scope_id","period_start");--> statement-breakpoint
CREATE INDEX "token_budgets_period_idx" ON "token_budgets" USING btree ("period_start","period_end");