DROP TABLE "node_join_tokens" CASCADE;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "pinned_labels" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "agents" jsonb DEFAULT '{}'::jsonb NOT NULL;