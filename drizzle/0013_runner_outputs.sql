CREATE TABLE "runner_outputs" (
	"runner_id" uuid PRIMARY KEY NOT NULL,
	"generation" integer NOT NULL,
	"output" "bytea" NOT NULL,
	"signal" text,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "runners" ADD COLUMN "reason" text;--> statement-breakpoint
ALTER TABLE "runner_outputs" ADD CONSTRAINT "runner_outputs_runner_id_runners_id_fk" FOREIGN KEY ("runner_id") REFERENCES "public"."runners"("id") ON DELETE cascade ON UPDATE no action;