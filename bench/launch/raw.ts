// The raw baseline: a plain Fastify app (no plugins, no schema, no logger) with one POST route
// whose handler runs one postgres.js READ COMMITTED transaction doing the writes a Stratavore
// launch does, in the same order, against tables with the same columns and indexes:
//   advisory xact lock on the project -> quota + active-runner count -> insert runner ->
//   touch project -> insert outbox row (jsonb envelope) -> insert audit row.
// It leaves out what is not a write (budget lookup, node pick, re-reading the project) on
// purpose: the ratio stratavore/raw is the price of everything the real code does on top.
import Fastify, { type FastifyInstance } from 'fastify'
import postgres from 'postgres'
import { v7 as uuidv7 } from 'uuid'
import type { Variant, VariantOptions } from './variant.js'

const DDL = `
create table projects (
  name text primary key,
  path text not null,
  max_concurrent_runners integer not null default 5,
  event_seq integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_accessed_at timestamptz
);
create table runners (
  id uuid primary key,
  project_name text not null references projects(name) on delete cascade,
  project_path text not null,
  agent text not null,
  runtime_type text not null default 'process',
  runtime_id text not null default '',
  node_id uuid,
  status text not null default 'pending',
  desired_state text not null default 'running',
  flags jsonb not null default '[]'::jsonb,
  capabilities jsonb not null default '[]'::jsonb,
  environment jsonb not null default '{}'::jsonb,
  conversation_mode text not null default 'new',
  session_id text,
  god boolean not null default false,
  prompt text,
  tokens_used bigint not null default 0,
  input_tokens bigint not null default 0,
  output_tokens bigint not null default 0,
  cache_read_tokens bigint not null default 0,
  cache_creation_tokens bigint not null default 0,
  cpu_percent real not null default 0,
  memory_mb integer not null default 0,
  restart_attempts integer not null default 0,
  max_restart_attempts integer not null default 3,
  heartbeat_ttl_seconds integer not null default 30,
  generation integer not null default 0,
  event_seq integer not null default 0,
  stop_force boolean not null default false,
  stop_timeout_seconds integer,
  stop_requested_at timestamptz,
  started_at timestamptz,
  last_heartbeat timestamptz,
  terminated_at timestamptz,
  exit_code integer,
  created_by text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint runners_status_check check (status in ('pending', 'starting', 'running', 'paused', 'stopping', 'lost', 'terminated', 'failed')),
  constraint runners_desired_state_check check (desired_state in ('running', 'stopped')),
  constraint runners_conversation_mode_check check (conversation_mode in ('new', 'continue', 'resume'))
);
create index runners_project_idx on runners (project_name, id);
create index runners_active_idx on runners (project_name) where status not in ('terminated', 'failed');
create index runners_node_idx on runners (node_id) where status not in ('terminated', 'failed');
create index runners_heartbeat_idx on runners (last_heartbeat) where status in ('starting', 'running', 'paused', 'stopping', 'lost');
create table outbox (
  id bigserial primary key,
  event_id uuid not null,
  event_type text not null,
  routing_key text not null,
  aggregate_type text not null,
  aggregate_id text not null,
  seq integer not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  max_attempts integer not null default 10,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  delivered_at timestamptz,
  dead_at timestamptz
);
create unique index outbox_event_id_key on outbox (event_id);
create index outbox_pending_idx on outbox (next_attempt_at, id) where delivered_at is null and dead_at is null;
create index outbox_aggregate_idx on outbox (aggregate_id, seq);
create table events (
  id bigserial primary key,
  event_id uuid not null,
  event_type text not null,
  entity_type text not null,
  entity_id text not null,
  project text,
  actor text not null,
  occurred_at timestamptz not null,
  data jsonb not null,
  key_id text,
  prev_mac text,
  mac text
);
create unique index events_event_id_key on events (event_id);
create index events_entity_idx on events (entity_type, entity_id);
create index events_occurred_idx on events (occurred_at);
`

class HttpError extends Error {
  constructor (readonly statusCode: number, message: string) { super(message) }
}

interface RunnerRow { id: string, project_name: string, agent: string, status: string, event_seq: number, node_id: string | null, conversation_mode: string, session_id: string | null, prompt: string | null, created_at: Date }

export const startRaw = async ({ databaseUrl, poolSize, projects }: VariantOptions): Promise<Variant> => {
  const sql = postgres(databaseUrl, {
    max: poolSize,
    idle_timeout: 60,
    onnotice: () => {},
    connection: { application_name: 'stv-bench-raw' },
  })
  let app: FastifyInstance | undefined
  try {
    await sql.unsafe(DDL).simple()
    for (const p of projects) {
      await sql`insert into projects (name, path, max_concurrent_runners) values (${p.name}, ${p.path}, ${p.maxConcurrentRunners})`
    }

    app = Fastify({ logger: false })
    app.post('/api/v1/runners', async (request, reply) => {
      const body = request.body as { project?: unknown, agent?: unknown } | null
      const project = typeof body?.project === 'string' ? body.project : ''
      const agent = typeof body?.agent === 'string' ? body.agent : ''
      if (!project || !agent) return reply.code(400).send({ error: 'project and agent are required' })
      const actor = 'anonymous'
      try {
        const runner = await sql.begin('isolation level read committed', async tx => {
          await tx`select pg_advisory_xact_lock(hashtextextended(${`project:${project}`}, 0))`
          const [quota] = await tx<Array<{ path: string, max: number, active: number }>>`
            select p.path, p.max_concurrent_runners as max,
              (select count(*) from runners r where r.project_name = p.name and r.status not in ('terminated', 'failed'))::int as active
            from projects p where p.name = ${project}`
          if (!quota) throw new HttpError(404, `project ${project} not found`)
          if (quota.active >= quota.max) throw new HttpError(429, `project ${project} is at its quota`)
          const now = new Date()
          const [row] = await tx<RunnerRow[]>`
            insert into runners (id, project_name, project_path, agent, status, desired_state, event_seq, created_by, created_at, updated_at)
            values (${uuidv7()}, ${project}, ${quota.path}, ${agent}, 'pending', 'running', 1, ${actor}, ${now}, ${now})
            returning *`
          if (!row) throw new Error('insert returned no row')
          await tx`update projects set last_accessed_at = ${now} where name = ${project}`
          const eventId = uuidv7()
          const data = { agent, node_id: row.node_id, conversation_mode: row.conversation_mode, session_id: row.session_id, headless: row.prompt !== null }
          const envelope = {
            version: 1, event_id: eventId, type: 'runner.launched', occurred_at: now.toISOString(), project,
            aggregate_type: 'runner', aggregate_id: row.id, seq: row.event_seq, actor, data,
          }
          await tx`
            insert into outbox (event_id, event_type, routing_key, aggregate_type, aggregate_id, seq, payload, created_at, next_attempt_at)
            values (${eventId}, 'runner.launched', ${`runner.launched.${project}`}, 'runner', ${row.id}, ${row.event_seq}, ${tx.json(envelope)}, ${now}, ${now})`
          await tx`
            insert into events (event_id, event_type, entity_type, entity_id, project, actor, occurred_at, data)
            values (${eventId}, 'runner.launched', 'runner', ${row.id}, ${project}, ${actor}, ${now}, ${tx.json(data)})`
          return row
        })
        return reply.code(201).send(runner)
      } catch (err) {
        if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.message })
        throw err
      }
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
  } catch (err) {
    await app?.close().catch(() => {})
    await sql.end({ timeout: 5 }).catch(() => {})
    throw err
  }
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('raw server has no TCP address')
  const server = app

  return {
    url: `http://127.0.0.1:${address.port}`,
    headers: {},
    async ledger () {
      const [row] = await sql<Array<{ runners: number, outbox: number, events: number }>>`
        select (select count(*) from runners)::int as runners,
          (select count(*) from outbox where event_type = 'runner.launched')::int as outbox,
          (select count(*) from events where event_type = 'runner.launched')::int as events`
      return row!
    },
    async close () {
      await server.close()
      await sql.end({ timeout: 5 })
    },
  }
}
