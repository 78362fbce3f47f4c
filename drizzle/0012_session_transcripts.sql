CREATE TABLE "session_transcript_chunks" (
	"session_id" text NOT NULL,
	"offset" bigint NOT NULL,
	"raw_bytes" integer NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "session_transcript_chunks_session_id_offset_pk" PRIMARY KEY("session_id","offset")
);
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "transcript_name" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "transcript_bytes" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "transcript_archive" text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE "session_transcript_chunks" ADD CONSTRAINT "session_transcript_chunks_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_transcript_archive_check" CHECK ("sessions"."transcript_archive" in ('none', 'archived', 'over_limit'));