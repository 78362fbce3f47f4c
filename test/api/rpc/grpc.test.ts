// The gRPC port (src/api/grpc-server.ts) with real HTTP/2 clients: `buf curl --protocol grpc`
// as a subprocess, and connect-node's gRPC (always HTTP/2), gRPC-Web and Connect transports;
// TLS with a self-signed certificate; client certificates (mTLS) with a real CA; HTTP/1.1
// refused; a graceful stop that ends streams.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { createClient } from '@connectrpc/connect'
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node'
import { buildGrpcServer } from '../../../src/api/grpc-server.js'
import { loadConfig } from '../../../src/config.js'
import { EventService } from '../../../src/gen/stratavore/v1/event_service_pb.js'
import { ProjectService } from '../../../src/gen/stratavore/v1/project_pb.js'
import { RunnerService, RunnerStatus } from '../../../src/gen/stratavore/v1/runner_pb.js'
import { SystemService } from '../../../src/gen/stratavore/v1/system_pb.js'
import { adminTokenOf, buildContext, tempDir, withToken } from '../../helpers/app.js'
import { makePki, type CertFiles } from '../../helpers/certs.js'
import { backendName } from '../../helpers/database.js'
import { commitEvents } from '../../helpers/events.js'
import { createProject } from '../../helpers/fixtures.js'
import { failureOf, waitFor } from './helpers.js'

const run = promisify(execFile)
const root = new URL('../../../', import.meta.url).pathname

/** buf curl, a gRPC client that is not ours; resolves with its exit code and output. */
const bufCurl = async (url: string, data: object, token: string) => {
  const args = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--schema', 'proto', '-H', `authorization: Bearer ${token}`, '-d', JSON.stringify(data), url]
  try {
    const { stdout, stderr } = await run(join(root, 'node_modules/.bin/buf'), args, { cwd: root, timeout: 60_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

t.test(`the gRPC port on ${backendName()}`, async t => {
  const ctx = await buildContext(t)
  const token = adminTokenOf(ctx)
  const server = buildGrpcServer(ctx, { drainMs: 500 })
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  const baseUrl = `http://127.0.0.1:${port}`
  const grpc = createGrpcTransport({ baseUrl, interceptors: [withToken(token)] })

  t.test('buf curl --protocol grpc: unary calls and an error status', async t => {
    const project = await createProject(t, ctx)
    const got = await bufCurl(`${baseUrl}/stratavore.v1.ProjectService/GetProject`, { name: project.name }, token)
    t.equal(got.code, 0, got.stderr)
    t.match(JSON.parse(got.stdout), { project: { name: project.name, path: project.path, status: 'PROJECT_STATUS_IDLE', maxConcurrentRunners: 5 } })
    const launched = await bufCurl(`${baseUrl}/stratavore.v1.RunnerService/LaunchRunner`, { project: project.name, agent: 'generic-test', environment: { GITHUB_TOKEN: 'x' } }, token)
    t.equal(launched.code, 0, launched.stderr)
    t.match(JSON.parse(launched.stdout), { runner: { project: project.name, status: 'RUNNER_STATUS_PENDING', environment: { GITHUB_TOKEN: '********' } } })
    const missing = await bufCurl(`${baseUrl}/stratavore.v1.ProjectService/GetProject`, { name: 'no-such-project' }, token)
    t.not(missing.code, 0)
    t.match(missing.stderr, /not_found/)
    t.match(missing.stderr, /project not found: no-such-project/)
    // Timed for /metrics as gRPC, with the code it ended with.
    const timed = await ctx.metrics.registry.getSingleMetricAsString('stratavore_rpc_duration_seconds')
    t.match(timed, /stratavore_rpc_duration_seconds_count\{service="stratavore.v1.ProjectService",method="GetProject",protocol="grpc",code="not_found"\} 1$/m)
    t.match(timed, /stratavore_rpc_duration_seconds_count\{service="stratavore.v1.RunnerService",method="LaunchRunner",protocol="grpc",code="ok"\} 1$/m)
  })

  t.test('connect-node gRPC transport over HTTP/2', async t => {
    const project = await createProject(t, ctx, { maxConcurrentRunners: 1 })
    const runners = createClient(RunnerService, grpc)
    const { runner } = await runners.launchRunner({ project: project.name, agent: 'generic-test' })
    t.equal(runner?.status, RunnerStatus.PENDING)
    t.same((await runners.listRunners({ project: project.name })).runners.map(r => r.id), [runner!.id])
    t.match(await failureOf(runners.launchRunner({ project: project.name, agent: 'generic-test' })), { code: 'ResourceExhausted', detail: 'QUOTA_EXCEEDED' }, 'error details travel in gRPC trailers')
    t.match(await failureOf(runners.getRunner({ id: 'nope' })), { code: 'InvalidArgument', detail: 'VALIDATION_FAILED' })
    t.equal((await createClient(SystemService, grpc).health({})).status, 'OK')
  })

  t.test('gRPC-Web and Connect on the same HTTP/2 port', async t => {
    const project = await createProject(t, ctx)
    for (const transport of [createGrpcWebTransport({ baseUrl, httpVersion: '2', interceptors: [withToken(token)] }), createConnectTransport({ baseUrl, httpVersion: '2', interceptors: [withToken(token)] })]) {
      t.equal((await createClient(ProjectService, transport).getProject({ name: project.name })).project?.name, project.name)
    }
  })

  t.test('HTTP/1.1 is refused on the gRPC port', async t => {
    await t.rejects(fetch(`${baseUrl}/stratavore.v1.SystemService/Health`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
  })

  t.test('WatchEvents streams over gRPC; stopping the server ends the stream with UNAVAILABLE', async t => {
    const [marker] = await commitEvents(ctx, [{ project: 'marker', type: 'project.created' }])
    const ids: string[] = []
    const ended = (async () => {
      for await (const message of createClient(EventService, grpc).watchEvents({ after: marker!.eventId })) ids.push(message.event!.eventId)
    })()
    ended.catch(() => {})
    const [event] = await commitEvents(ctx, [{ project: 'p1' }])
    await waitFor('the event over gRPC', () => ids.length > 0)
    t.same(ids, [event!.eventId])
    const started = Date.now()
    const stopped = server.close()
    t.match(await failureOf(ended), { code: 'Unavailable' })
    await stopped
    t.ok(Date.now() - started < 5000, 'the stop did not wait out open streams')
    await waitFor('the subscription to be released', () => ctx.feed.stats().subscribers === 0)
  })
})

t.test('TLS on the gRPC port', async t => {
  const dir = tempDir(t)
  const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')]
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert])
  const env = { HOME: dir, STRATAVORE_DAEMON_GRPC_TLS_CERT_FILE: cert, STRATAVORE_DAEMON_GRPC_TLS_KEY_FILE: key }
  t.throws(() => loadConfig({ env: { HOME: dir, STRATAVORE_DAEMON_GRPC_TLS_CERT_FILE: cert }, home: dir }), /daemon\.grpc_tls_key_file/, 'a certificate needs its key')
  const grpcTls = loadConfig({ env, home: dir }).grpcTls
  t.ok(grpcTls, 'both files set: TLS')

  const ctx = await buildContext(t, config => { config.grpcTls = grpcTls })
  const server = buildGrpcServer(ctx, { drainMs: 500 })
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  t.equal(server.tls, true)
  const transport = createGrpcTransport({ baseUrl: `https://localhost:${port}`, nodeOptions: { ca: readFileSync(cert) } })
  t.equal((await createClient(SystemService, transport).health({})).status, 'OK', 'a client that trusts the certificate gets through')
  const untrusting = createGrpcTransport({ baseUrl: `https://localhost:${port}` })
  t.match(await failureOf(createClient(SystemService, untrusting).health({})), { message: /certificate/ }, 'one that does not is refused')
})

t.test('client certificates on the gRPC port (daemon.grpc_client_ca_file)', async t => {
  const pki = await makePki(t)
  const home = tempDir(t)
  t.throws(() => loadConfig({ env: { HOME: home, STRATAVORE_DAEMON_GRPC_CLIENT_CA_FILE: pki.ca.cert }, home }),
    /^config daemon\.grpc_client_ca_file: needs daemon\.grpc_tls_cert_file and daemon\.grpc_tls_key_file/, 'mTLS needs TLS')
  const grpcTls = loadConfig({
    env: { HOME: home, STRATAVORE_DAEMON_GRPC_TLS_CERT_FILE: pki.server.cert, STRATAVORE_DAEMON_GRPC_TLS_KEY_FILE: pki.server.key, STRATAVORE_DAEMON_GRPC_CLIENT_CA_FILE: pki.ca.cert },
    home,
  }).grpcTls
  t.equal(grpcTls?.clientCa, readFileSync(pki.ca.cert, 'utf8').trimEnd())

  const ctx = await buildContext(t, config => { config.grpcTls = grpcTls })
  const server = buildGrpcServer(ctx, { drainMs: 500 })
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  t.same({ tls: server.tls, mtls: server.mtls }, { tls: true, mtls: true })

  const healthWith = (identity: CertFiles | null, tlsVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3') => {
    const nodeOptions = { ca: readFileSync(pki.ca.cert), maxVersion: tlsVersion, ...(identity ? { cert: readFileSync(identity.cert), key: readFileSync(identity.key) } : {}) }
    return createClient(SystemService, createGrpcTransport({ baseUrl: `https://localhost:${port}`, nodeOptions })).health({})
  }
  t.equal((await healthWith(pki.client)).status, 'OK', 'a client with a certificate the CA signed gets through')
  t.match(await failureOf(healthWith(null)), { message: /alert certificate required/ }, 'a client without a certificate is refused')
  // The TLS 1.3 client has finished its side of the handshake when the server refuses its
  // certificate, so all it sees is its stream cancelled; TLS 1.2 sees the handshake fail.
  await t.rejects(healthWith(pki.stranger), 'a certificate the CA did not sign is refused')
  t.match(await failureOf(healthWith(pki.stranger, 'TLSv1.2')), { message: /secure TLS connection was established|handshake/ }, 'in the handshake')
  t.equal((await healthWith(pki.client)).status, 'OK', 'the refusals did not hurt the server')
})
