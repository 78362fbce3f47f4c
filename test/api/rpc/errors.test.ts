// The one RPC error mapping, through a router transport (no network): every AppError kind to
// its Connect code with the stable code as a detail, a lost database to UNAVAILABLE, anything
// else to INTERNAL with nothing of the cause shown. Also: the proto enums stay in step with the
// domain's lists, which the mappers rely on.
import t from 'tap'
import { pino } from 'pino'
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect'
import { CODE_OF_KIND, toConnectError } from '../../../src/api/rpc/errors.js'
import { routerOptions, routes } from '../../../src/api/rpc/routes.js'
import { AppError, errors, type ErrorKind } from '../../../src/core/errors.js'
import { PROJECT_STATUSES } from '../../../src/core/projects/project.js'
import { CONVERSATION_MODES, RUNNER_STATUSES } from '../../../src/core/runners/runner.js'
import { ErrorDetailSchema } from '../../../src/gen/stratavore/v1/error_pb.js'
import { ProjectService, ProjectStatus } from '../../../src/gen/stratavore/v1/project_pb.js'
import { ConversationMode, RunnerStatus } from '../../../src/gen/stratavore/v1/runner_pb.js'
import { adminTokenOf, buildContext, withToken } from '../../helpers/app.js'
import { failureOf } from './helpers.js'

const silent = pino({ level: 'silent' })

t.test('toConnectError', async t => {
  const expected: Record<ErrorKind, Code> = {
    invalid_argument: Code.InvalidArgument, not_found: Code.NotFound, already_exists: Code.AlreadyExists, failed_precondition: Code.FailedPrecondition,
    resource_exhausted: Code.ResourceExhausted, unavailable: Code.Unavailable, unauthenticated: Code.Unauthenticated, permission_denied: Code.PermissionDenied, internal: Code.Internal,
  }
  t.same(CODE_OF_KIND, expected, 'one Connect code per kind')
  const quota = toConnectError(errors.quotaExceeded('p', 5, 5), silent)
  t.equal(quota.code, Code.ResourceExhausted)
  t.equal(quota.rawMessage, 'quota exceeded: 5/5 runners active in project p')
  t.same(quota.findDetails(ErrorDetailSchema).map(d => d.code), ['QUOTA_EXCEEDED'])
  t.equal(toConnectError(errors.budgetExhausted('global', 10, 10), silent).code, Code.ResourceExhausted)

  const logged: unknown[] = []
  const log = { ...silent, error: (obj: unknown) => { logged.push(obj) }, warn: () => {} } as unknown as typeof silent
  const internal = toConnectError(new AppError({ code: 'INTERNAL', kind: 'internal', message: 'the password is hunter2' }), log)
  t.equal(internal.code, Code.Internal)
  t.equal(internal.rawMessage, 'internal error', 'an internal message is not shown')
  const crash = toConnectError(new TypeError('cannot read x of undefined at /srv/secret.ts'), log)
  t.equal(crash.rawMessage, 'internal error')
  t.same(crash.findDetails(ErrorDetailSchema).map(d => d.code), ['INTERNAL'])
  t.equal(logged.length, 2, 'the causes are logged')

  const outage = toConnectError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }), log)
  t.equal(outage.code, Code.Unavailable, 'a lost database is UNAVAILABLE')
  t.equal(outage.rawMessage, 'the database is unavailable; retry shortly')
  const own = new ConnectError('not yet', Code.Unimplemented)
  t.equal(toConnectError(own, log), own, "Connect's own errors pass through")
})

t.test('every handler goes through the mapping (router transport)', async t => {
  const ctx = await buildContext(t)
  const broken = { ...ctx, projects: { ...ctx.projects, get: async () => { throw new Error('connection string postgres://u:secret@db') } } }
  const transport = createRouterTransport(routes({ ctx: broken, closing: new AbortController().signal }), { router: routerOptions(broken), transport: { interceptors: [withToken(adminTokenOf(ctx))] } })
  const projects = createClient(ProjectService, transport)
  t.match(await failureOf(projects.getProject({ name: 'p' })), { code: 'Internal', detail: 'INTERNAL', message: 'internal error' })
  t.match(await failureOf(projects.archiveProject({ name: 'no-such' })), { code: 'NotFound', detail: 'PROJECT_NOT_FOUND' })
})

t.test('proto enums follow the domain lists', async t => {
  const names = (values: readonly string[]) => values.map(v => v.toUpperCase())
  t.same(Object.keys(ProjectStatus).filter(k => Number.isNaN(Number(k))).slice(1), names(PROJECT_STATUSES))
  t.same(Object.keys(RunnerStatus).filter(k => Number.isNaN(Number(k))).slice(1), names(RUNNER_STATUSES))
  t.same(Object.keys(ConversationMode).filter(k => Number.isNaN(Number(k))).slice(1), names(CONVERSATION_MODES))
})
