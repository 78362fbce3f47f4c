// The access policy, walked whole: every operation in /openapi.json and every RPC method, with
// no credential and with each role's credential. Public operations answer everyone; the others
// answer 401 (Unauthenticated) without a credential, 403 (PermissionDenied) to a role below the
// one declared, and get past authentication (any other answer) for the roles it admits. The
// table has exactly the routes and methods the daemon serves, and a route without an entry
// stops buildApp.
import type { DescService } from '@bufbuild/protobuf'
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect'
import { createConnectTransport } from '@connectrpc/connect-node'
import t from 'tap'
import { ROUTE_ACCESS, RPC_ACCESS, type Access } from '../../src/api/access-policy.js'
import { buildApp } from '../../src/api/app.js'
import { routes } from '../../src/api/rpc/routes.js'
import { credentialHash } from '../../src/adapters/supervisor/node-identity.js'
import { permits, type Role } from '../../src/core/auth/principal.js'
import { build, buildContext, withToken } from '../helpers/app.js'
import { backendName } from '../helpers/database.js'

const NODE_CREDENTIAL = 'access-policy-node-credential-0000000000'
const ROLES: Role[] = ['admin', 'operator', 'viewer', 'node']

const expected = (access: Access, role: Role | null): 'pass' | 401 | 403 => {
  if (access === 'public') return 'pass'
  if (role === null) return 401
  return permits(role, access) ? 'pass' : 403
}

/** Every service the router serves, as the RPC routes register them. */
const servedServices = (): DescService[] => {
  const services: DescService[] = []
  routes({ ctx: {} as never, closing: new AbortController().signal })({ service: (service: DescService) => { services.push(service) } } as never)
  return services
}

// Some 250 calls: more than the default file timeout allows on a loaded machine.
t.setTimeout(900_000)

t.test(`every route and RPC method × every role × no token, on ${backendName()}`, async t => {
  const { app, ctx, token: adminToken } = await build(t)
  const tokens: Record<Role, string> = {
    admin: adminToken,
    operator: (await ctx.tokens.create({ name: 'matrix-operator', role: 'operator' }, 'test')).secret,
    viewer: (await ctx.tokens.create({ name: 'matrix-viewer', role: 'viewer' }, 'test')).secret,
    node: NODE_CREDENTIAL,
  }
  await ctx.repos.supervision.registerNode({
    id: '00000000-0000-7000-8000-00000000a11c', name: 'matrix-node', hostname: 'h', version: 'test', capacity: 1,
    credentialHash: credentialHash(NODE_CREDENTIAL), attachUrl: 'ws://127.0.0.1:9', attachKey: 'k',
  })
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 })

  t.test('REST and WebSocket operations in /openapi.json', async t => {
    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> }
    const operations = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map(method => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
    t.same([...operations].sort(), Object.keys(ROUTE_ACCESS).sort(), 'the table declares exactly the documented operations')
    for (const operation of operations) {
      const [method, pattern] = operation.split(' ') as [string, string]
      const url = pattern.replace(/:(\w+)/g, (_m, name: string) => name === 'name' ? 'no-such-project' : '00000000-0000-7000-8000-000000000000')
      for (const role of [null, ...ROLES]) {
        const res = await app.inject({ method: method as 'GET', url, headers: { authorization: role ? `Bearer ${tokens[role]}` : undefined } })
        const want = expected(ROUTE_ACCESS[operation]!, role)
        const what = `${operation} as ${role ?? 'no token'}`
        if (want === 'pass') t.notOk([401, 403].includes(res.statusCode), `${what}: past authentication (${res.statusCode})`)
        else {
          t.equal(res.statusCode, want, what)
          t.match(res.headers['content-type'], /problem\+json/, `${what}: a problem`)
        }
      }
    }
  })

  t.test('RPC methods', async t => {
    const services = servedServices()
    const methods = services.flatMap(s => s.methods.map(m => ({ service: s, method: m, key: `${s.typeName}/${m.name}` })))
    t.same(methods.map(m => m.key).sort(), Object.keys(RPC_ACCESS).sort(), 'the table declares exactly the served methods')
    const clients = new Map<Role | null, Map<DescService, Client<DescService>>>()
    for (const role of [null, ...ROLES]) {
      const transport = createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors: role ? [withToken(tokens[role])] : [] })
      clients.set(role, new Map(services.map(s => [s, createClient(s, transport)])))
    }
    for (const { service, method, key } of methods) {
      for (const role of [null, ...ROLES]) {
        const call = (clients.get(role)!.get(service) as unknown as Record<string, (req: object, opts: object) => unknown>)[method.localName]!
        // A stream that is admitted stays open: stop waiting for it after a moment.
        const signal = AbortSignal.timeout(method.methodKind === 'unary' ? 30_000 : 1_000)
        let code: Code | 'ok' = 'ok'
        try {
          const result = call({}, { signal })
          if (method.methodKind === 'server_streaming') for await (const _ of result as AsyncIterable<unknown>) break
          else await result
        } catch (err) { code = ConnectError.from(err).code }
        const want = expected(RPC_ACCESS[key]!, role)
        const what = `${key} as ${role ?? 'no token'}`
        if (want === 'pass') t.notOk(code === Code.Unauthenticated || code === Code.PermissionDenied, `${what}: past authentication (${code === 'ok' ? 'ok' : Code[code]})`)
        else t.equal(code, want === 401 ? Code.Unauthenticated : Code.PermissionDenied, what)
      }
    }
  })
})

t.test('buildApp refuses a route under /api/ that the table does not declare', async t => {
  const ctx = await buildContext(t)
  const app = await buildApp(ctx)
  t.teardown(() => app.close())
  t.throws(() => app.get('/api/v1/undeclared', async () => 'hi'), /has no entry in src\/api\/access-policy\.ts/)
})
