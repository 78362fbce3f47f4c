// The transcript archive behind "resume anywhere": chunks appended only where the archive ends,
// messages and summary kept current with them, the limit (past it the archive is dropped and the
// export refused with a clear 409), and the export over REST and RPC. Bad ids are problems.
import t from 'tap'
import { count, eq } from 'drizzle-orm'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import { sessionTranscriptChunks } from '../../src/adapters/db/schema.js'
import type { TranscriptSlice } from '../../src/core/sessions/session.js'
import { SessionService } from '../../src/gen/stratavore/v1/session_pb.js'
import { build, withToken } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'
import { createProject, insertSession } from '../helpers/fixtures.js'
import { failureOf } from './rpc/helpers.js'

const slice = (offset: number, text: string, facts: Partial<TranscriptSlice> = {}): TranscriptSlice =>
  ({ offset, data: Buffer.from(text), name: 'projects/-work/abc.jsonl', messages: 0, summary: null, firstPrompt: null, ...facts })

t.test(`session transcripts on ${backendName()}`, async t => {
  const { app, ctx, token } = await build(t)
  const get = (url: string) => app.inject({ method: 'GET', url })
  const append = (id: string, s: TranscriptSlice, max = 1000) => ctx.uow.run(tx => tx.transcripts.append(id, s, max))
  const chunkRows = async (id: string) => (await ctx.database.db.select({ n: count() }).from(sessionTranscriptChunks).where(eq(sessionTranscriptChunks.sessionId, id)))[0]!.n
  const project = await createProject(t, ctx)
  const id = (suffix: string) => `${project.name}.${suffix}`
  for (const s of ['kept', 'big', 'empty']) await insertSession(ctx, { id: id(s), projectName: project.name })

  await t.test('appended where the archive ends, with messages and summary; exported byte for byte', async t => {
    const first = '{"type":"user","message":{"content":"hello"}}\n'
    const second = '{"type":"assistant"}\n{"type":"ai-title","aiTitle":"Greeting"}\n'
    t.match(await append(id('kept'), slice(0, first, { messages: 1, firstPrompt: 'hello' })), { archive: 'archived', bytes: first.length, name: 'projects/-work/abc.jsonl' })
    t.equal(await append(id('kept'), slice(0, first)), null, 'a repeated slice is refused (the archive no longer ends at 0)')
    t.equal(await append(id('kept'), slice(first.length + 5, second)), null, 'a slice past the end would leave a gap: refused')
    t.match(await append(id('kept'), slice(first.length, second, { messages: 1, summary: 'Greeting' })), { bytes: first.length + second.length })
    await append(id('kept'), slice(first.length + second.length, '', { firstPrompt: 'a later prompt' }))
    t.hasStrict((await get(`/api/v1/sessions/${id('kept')}`)).json(), {
      messageCount: 2, summary: 'Greeting', transcriptBytes: first.length + second.length, transcriptArchive: 'archived',
    }, 'the agent\'s title beats the first prompt, and a later prompt changes nothing')

    const res = await get(`/api/v1/sessions/${id('kept')}/transcript`)
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /^application\/x-ndjson/)
    t.equal(res.headers['content-disposition'], 'attachment; filename="abc.jsonl"')
    t.equal(res.body, first + second)

    const upTo = []
    for await (const chunk of ctx.repos.transcripts.read(id('kept'), first.length)) upTo.push(chunk)
    t.equal(Buffer.concat(upTo).toString(), first, 'a read stops at the end it was given (chunks appended since are not in it)')

    const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })
    const client = createClient(SessionService, createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: [withToken(token)] }))
    const parts = []
    for await (const part of client.exportSessionTranscript({ id: id('kept') })) parts.push(part)
    t.equal(Buffer.concat(parts.map(p => p.data)).toString(), first + second, 'the RPC streams the same bytes')
    t.match(parts[0], { fileName: 'abc.jsonl', totalBytes: BigInt(first.length + second.length) })
    t.match(await failureOf(client.exportSessionTranscript({ id: id('empty') })[Symbol.asyncIterator]().next()), { code: 'NotFound', detail: 'TRANSCRIPT_NOT_ARCHIVED' })
  })

  await t.test('past the limit the archive is dropped, counting goes on, and the export is 409', async t => {
    t.match(await append(id('big'), slice(0, '0123456789\n'), 20), { archive: 'archived', bytes: 11 })
    t.equal(await chunkRows(id('big')), 1)
    t.match(await append(id('big'), slice(11, '0123456789\n', { messages: 1 }), 20), { archive: 'over_limit', bytes: 22 })
    t.equal(await chunkRows(id('big')), 0, 'no prefix of a conversation is kept')
    t.match(await append(id('big'), slice(22, 'x\n'), 1_000_000), { archive: 'over_limit', bytes: 24 }, 'once over, always over (a gap would lie)')
    t.equal(await chunkRows(id('big')), 0)
    const res = await get(`/api/v1/sessions/${id('big')}/transcript`)
    t.equal(res.statusCode, 409)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.hasStrict(res.json(), { status: 409, code: 'TRANSCRIPT_OVER_ARCHIVE_LIMIT' })
    t.hasStrict((await get(`/api/v1/sessions/${id('big')}`)).json(), { transcriptArchive: 'over_limit', transcriptBytes: 24, messageCount: 1 })
  })

  await t.test('bad ids and sessions with nothing archived are problems', async t => {
    const cases: Array<[string, number, string]> = [
      [`/api/v1/sessions/${id('empty')}/transcript`, 404, 'TRANSCRIPT_NOT_ARCHIVED'],
      ['/api/v1/sessions/no-such-session/transcript', 404, 'SESSION_NOT_FOUND'],
      ['/api/v1/sessions/-leading-dash/transcript', 400, 'VALIDATION_FAILED'],
      [`/api/v1/sessions/${'x'.repeat(129)}/transcript`, 400, 'VALIDATION_FAILED'],
    ]
    for (const [url, status, code] of cases) {
      const res = await get(url)
      t.equal(res.statusCode, status, url)
      t.hasStrict(res.json(), { status, code })
    }
    const viewer = await ctx.tokens.create({ name: 'viewer-1', role: 'viewer' }, 'test')
    const refused = await app.inject({ method: 'GET', url: `/api/v1/sessions/${id('kept')}/transcript`, headers: { authorization: `Bearer ${viewer.secret}` } })
    t.equal(refused.statusCode, 403, 'a viewer may not read a transcript')
  })
})
