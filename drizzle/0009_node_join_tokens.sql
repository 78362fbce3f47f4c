CREATE TABLE "node_join_tokens" (
	"id" uuid PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"max_uses" integer DEFAULT 1 NOT NULL,
	"use_count" integer DEFAULT 0 NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"revoked_by" text,
	CONSTRAINT "node_join_tokens_uses_check" CHECK ("node_join_tokens"."use_count" >= 0 and "node_join_tokens"."use_count" <= "node_join_tokens"."max_uses")
);
--> statement-breakpoint
CREATE UNIQUE INDEX "node_join_tokens_token_hash_key" ON "node_join_tokens" USING btree ("token_hash");