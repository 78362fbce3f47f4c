// GET /api/v1/backup (admin): the whole database from one snapshot, streamed as it is read
// (src/adapters/backup/). Through the daemon because PGlite is single-process: with the
// embedded database nothing else can open the data dir while the daemon runs. The answer
// starts only once the snapshot is open and its header written, so a database that cannot be
// read is a problem+json, not an empty 200; a failure later cuts the stream short, and the
// file then lacks its end line, which `stratavore backup` and `restore` both refuse.
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { problems } from './schemas.js'

const clientGone = () => new Error('the client closed the backup stream')

/** A write that waits for the stream to drain, and fails once the client has gone. */
const writerFor = (stream: PassThrough) => (chunk: string) => new Promise<void>((resolve, reject) => {
  if (stream.destroyed) return reject(clientGone())
  if (stream.write(chunk)) return resolve()
  const onDrain = () => { stream.off('close', onClose); resolve() }
  const onClose = () => { stream.off('drain', onDrain); reject(clientGone()) }
  stream.once('drain', onDrain)
  stream.once('close', onClose)
})

export const backupRoutes = async (app: FastifyInstance) => {
  const { ctx } = app

  app.get('/api/v1/backup', {
    schema: {
      tags: ['operations'],
      summary: 'A backup of the whole database from one snapshot, with this daemon\'s audit checkpoints (admin)',
      description: 'Newline-delimited JSON: a header (format version, schema migrations, audit key ids), each table and its rows, the ' +
        'audit checkpoints file, and an end line with the row counts and the SHA-256 of everything before it. `stratavore backup` ' +
        'writes it to a file; `stratavore restore` puts it into an empty database. Holds no key: keep the audit key apart.',
      response: { 200: { description: 'the backup', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...problems(503) },
    },
  }, async (request, reply) => {
    const stream = new PassThrough()
    const write = writerFor(stream)
    let started: () => void
    const headerWritten = new Promise<void>(resolve => { started = resolve })
    const done = ctx.backup(async chunk => { await write(chunk); started() })
    done.then(() => stream.end(), err => {
      request.log.warn({ err }, 'backup: cut short')
      stream.destroy(err as Error)
    })
    await Promise.race([headerWritten, done])
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z')
    return reply.type('application/x-ndjson').header('content-disposition', `attachment; filename="stratavore-${stamp}.backup"`).send(stream)
  })
}
