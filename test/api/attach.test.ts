// GET /api/v1/runners/{id}/attach end to end: the API relays to the supervisor's attach
// channel, which serves the fake agent's real pseudo-terminal.
import t from 'tap'
import { buildApp } from '../../src/api/app.js'
import { adminTokenOf, asAdmin, bearer } from '../helpers/app.js'
import { openAttach } from '../helpers/attach-client.js'
import { backendName } from '../helpers/database.js'
import { createProject } from '../helpers/fixtures.js'
import { buildSupervisedContext, waitForRunner } from '../helpers/supervisor.js'

t.test(`attach to a runner's terminal on ${backendName()}`, async t => {
  const { ctx } = await buildSupervisedContext(t)
  const app = asAdmin(await buildApp(ctx), ctx)
  const admin = bearer(adminTokenOf(ctx))
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1/runners`
  const project = await createProject(t, ctx)
  const runner = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: ['--echo'] }, 'test')
  await waitForRunner(ctx, runner.id, 'running')

  const writer = await openAttach(`${base}/${runner.id}/attach?cols=100&rows=30`, admin)
  await writer.waitFor(c => c.frames.length > 0, 'the hello frame')
  t.match(writer.frames[0], { type: 'hello', role: 'writer', terminal: true, cols: 100, rows: 30 })
  await writer.waitFor(c => c.output().includes('READY'), 'the agent to be ready')
  writer.socket.send(Buffer.from('hello there'))
  await writer.waitFor(c => c.output().includes('ECHO hello there'), 'the keystrokes to reach the agent')
  writer.socket.send(JSON.stringify({ type: 'resize', cols: 90, rows: 20 }))
  await writer.waitFor(c => c.output().includes('SIZE 90 20'), 'the resize to reach the agent')
  t.pass('a writer types into the terminal and resizes it')

  const viewer = await openAttach(`${base}/${runner.id}/attach`, admin)
  await viewer.waitFor(c => c.output().includes('ECHO hello there'), 'the scrollback replay')
  t.match(viewer.frames[0], { type: 'hello', role: 'viewer' }, 'a second client is a viewer: one writer at a time')
  viewer.socket.send(Buffer.from('sneaky'))
  await viewer.waitFor(c => c.frames.some(f => f.code === 'read_only'), 'the read-only error')
  writer.socket.send(Buffer.from('after'))
  await viewer.waitFor(c => c.output().includes('ECHO after'), 'live output to reach the viewer')
  t.notOk(writer.output().includes('sneaky'), 'the viewer\'s input never reached the agent')

  const reader = await openAttach(`${base}/${runner.id}/attach?mode=read`, admin)
  await reader.waitFor(c => c.frames.length > 0, 'hello')
  t.match(reader.frames[0], { role: 'viewer' }, 'mode=read joins as a viewer')
  reader.socket.send(Buffer.alloc(70 * 1024, 1))
  t.equal((await reader.closed).code, 1009, 'an oversized frame closes that socket with 1009')
  reader.socket.terminate()

  const output = await app.inject({ method: 'GET', url: `/api/v1/runners/${runner.id}/output` })
  t.equal(output.statusCode, 200)
  t.match(output.body, /ECHO hello there/, 'GET …/output returns the scrollback')

  await ctx.runners.stop(runner.id, {}, 'test')
  const [writerClosed, viewerClosed] = await Promise.all([writer.closed, viewer.closed])
  t.equal(writerClosed.code, 1000, 'a clean close when the runner ends')
  t.equal(viewerClosed.code, 1000)
  t.match(writer.frames.at(-1), { type: 'exit' }, 'after an exit frame')
  await waitForRunner(ctx, runner.id, 'terminated')

  const finished = await app.inject({ method: 'GET', url: `/api/v1/runners/${runner.id}/attach` })
  t.equal(finished.statusCode, 409, 'attach to a finished runner is refused')
  const kept = await app.inject({ method: 'GET', url: `/api/v1/runners/${runner.id}/output` })
  t.equal(kept.statusCode, 200, 'its output is still served once it has ended')
  t.match(kept.body, /ECHO hello there[\s\S]*ECHO after/, 'the output of its last life, kept in the database')
  t.match(finished.json(), { code: 'RUNNER_FINISHED' })
  const unknown = await app.inject({ method: 'GET', url: '/api/v1/runners/00000000-0000-7000-8000-000000000000/attach' })
  t.equal(unknown.statusCode, 404)
  const malformed = await app.inject({ method: 'GET', url: '/api/v1/runners/..%2F..%2Fetc/attach' })
  t.equal(malformed.statusCode, 404)
  const badSize = await app.inject({ method: 'GET', url: `/api/v1/runners/${runner.id}/attach?cols=0&rows=99999` })
  t.equal(badSize.statusCode, 400)
})

t.test(`a large scrollback reaches a late viewer whole on ${backendName()}`, async t => {
  const { ctx } = await buildSupervisedContext(t, config => { config.supervisor.scrollback_bytes = 8 * 1024 * 1024 })
  const app = asAdmin(await buildApp(ctx), ctx)
  const admin = bearer(adminTokenOf(ctx))
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const project = await createProject(t, ctx)
  // 6 MiB of output, then idle: more than fits in a small WebSocket frame limit.
  const runner = await ctx.runners.launch({ project: project.name, agent: 'fake', flags: ['--flood', String(6 * 1024 * 1024)] }, 'test')
  await waitForRunner(ctx, runner.id, 'running')
  const base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}/api/v1/runners`
  const deadline = Date.now() + 30_000
  let viewer = await openAttach(`${base}/${runner.id}/attach?mode=read`, admin)
  // Wait until the flood is done, then join late so that all of it comes as scrollback.
  await viewer.waitFor(c => c.output().includes('FLOODED'), 'the flood to end', 30_000)
  viewer.socket.close()
  viewer = await openAttach(`${base}/${runner.id}/attach?mode=read`, admin)
  await viewer.waitFor(c => c.output().length >= 6 * 1024 * 1024 || Date.now() > deadline, 'the scrollback', 30_000)
  t.ok(viewer.output().length >= 6 * 1024 * 1024, 'the whole scrollback arrived')
  t.equal(viewer.socket.readyState, viewer.socket.OPEN, 'and the socket is still open')
  await ctx.runners.stop(runner.id, { force: true }, 'test')
  t.equal((await viewer.closed).code, 1000)
})
