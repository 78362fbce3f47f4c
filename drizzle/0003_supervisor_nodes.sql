ALTER TABLE "nodes" ADD COLUMN "attach_url" text;--> statement-breakpoint
ALTER TABLE "nodes" ADD COLUMN "attach_key" text;