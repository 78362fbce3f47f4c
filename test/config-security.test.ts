// The config keys of the trust boundary: per-agent launch_env, allow_flags and run_as, the
// project roots and protected paths, and what agents inherit from the daemon's environment.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig, redactedConfig } from '../src/config.js'
import { limitAccountOf } from '../src/adapters/agents/limit-account.js'
import { nodeLostPolicyOf } from '../src/config-agents.js'
import { inheritedEnvironment } from '../src/core/supervisor/agent-environment.js'
import { prepareAgentUsers, resolveRunAs, type Lookup } from '../src/adapters/supervisor/run-as.js'
import { tempDir } from './helpers/temp-dir.js'
import { configHome, errorOf } from './helpers/config.js'


t.test('agents: launch_env, allow_flags and run_as are read; unset, they are absent', async t => {
  const home = configHome(t, [
    'agents:',
    '  claude:', '    allow_flags: ["--model=*", "--verbose"]', '    launch_env: [MY_*, LANG]',
    '  boxed:', '    kind: generic', '    command: [/bin/true]', '    run_as: { user: nobody, group: nogroup }',
    '  numeric:', '    kind: generic', '    command: [/bin/true]', '    run_as: { user: 65534 }',
  ].join('\n'))
  const c = loadConfig({ home, env: { HOME: home } })
  t.same(c.agents.claude, { name: 'claude', kind: 'claude', command: ['claude'], env: {}, allowFlags: ['--model=*', '--verbose'], launchEnv: ['MY_*', 'LANG'] })
  t.same(c.agents.boxed?.runAs, { user: 'nobody', group: 'nogroup' })
  t.same(c.agents.numeric?.runAs, { user: '65534' })
  t.same(c.agents.codex, { name: 'codex', kind: 'codex', command: ['codex'], env: {} }, 'an agent that names none takes the defaults')
})

t.test('agents: bad launch_env, allow_flags and run_as name the key', async t => {
  const bad = (agent: string) => {
    const home = configHome(t, `agents:\n  x:\n    kind: generic\n    command: [/bin/true]\n${agent}`)
    return errorOf(() => loadConfig({ home, env: { HOME: home } }))
  }
  t.match(bad('    launch_env: FOO\n'), /agents\.x\.launch_env: must be a list of strings/)
  t.match(bad('    launch_env: [lower]\n'), /agents\.x\.launch_env: item "lower" must match/)
  t.match(bad('    launch_env: [STRATAVORE_*]\n'), /agents\.x\.launch_env: item "STRATAVORE_\*"/, "the supervisor's own variables cannot be allowed")
  t.match(bad('    allow_flags: true\n'), /agents\.x\.allow_flags: must be a list of strings/)
  t.match(bad('    allow_flags: [""]\n'), /agents\.x\.allow_flags: item ""/)
  t.match(bad('    run_as: nobody\n'), /agents\.x\.run_as: must be a mapping \{user, group\}/)
  t.match(bad('    run_as: { group: nogroup }\n'), /agents\.x\.run_as\.user: must be a name or a numeric id/)
  t.match(bad('    run_as: { user: "a b" }\n'), /agents\.x\.run_as\.user/)
  t.match(bad('    run_as: { user: nobody, uid: 1 }\n'), /agents\.x\.run_as\.uid: is not a known key/)
})

t.test('failover: agents.<name>.on_node_lost by kind unless set, supervisor.on_shutdown', async t => {
  const home = configHome(t, 'agents:\n  claude:\n    on_node_lost: fail\n  scripted:\n    kind: generic\n    command: [/bin/true]\nsupervisor:\n  on_shutdown: stop\n')
  const c = loadConfig({ home, env: { HOME: home } })
  t.same([nodeLostPolicyOf(c.agents.claude!), nodeLostPolicyOf(c.agents.codex!), nodeLostPolicyOf(c.agents.scripted!), nodeLostPolicyOf(c.agents.aider!)],
    ['fail', 'reschedule', 'fail', 'fail'], 'resumable kinds reschedule by default')
  t.equal(c.supervisor.on_shutdown, 'stop')
  t.equal(loadConfig({ home: configHome(t, ''), env: { HOME: home } }).supervisor.on_shutdown, 'handover')
  const bad = configHome(t, 'agents:\n  claude:\n    on_node_lost: later\n')
  t.match(errorOf(() => loadConfig({ home: bad, env: { HOME: bad } })), /agents\.claude\.on_node_lost: must be one of reschedule, fail, got "later"/)
  const badShutdown = configHome(t, 'supervisor:\n  on_shutdown: linger\n')
  t.match(errorOf(() => loadConfig({ home: badShutdown, env: { HOME: badShutdown } })), /supervisor\.on_shutdown/)
  const keepWithoutShim = configHome(t, 'supervisor:\n  on_shutdown: keep\n  shim: false\n')
  t.match(errorOf(() => loadConfig({ home: keepWithoutShim, env: { HOME: keepWithoutShim } })), /supervisor\.on_shutdown.*keep needs supervisor\.shim/)
  t.equal(loadConfig({ home: configHome(t, ''), env: { HOME: home } }).supervisor.shim, true, 'shims are on by default')
})

t.test("project roots: the daemon user's home by default; listed, ~ expanded; relative refused", async t => {
  const home = tempDir(t, 'stv-config-')
  t.same(loadConfig({ home, env: { HOME: home } }).projectRoots, [home])
  t.same(loadConfig({ home, env: { HOME: home, STRATAVORE_SECURITY_PROJECT_ROOTS: '~/code, /srv/projects' } }).projectRoots, [join(home, 'code'), '/srv/projects'])
  t.match(errorOf(() => loadConfig({ home, env: { HOME: home, STRATAVORE_SECURITY_PROJECT_ROOTS: 'code' } })), /security\.project_roots: item "code" must match/)
})

t.test('protected paths: the data dir, the config file and every secret file named', async t => {
  const home = configHome(t, 'security:\n  audit_key_file: ~/keys/audit.keys\n')
  mkdirSync(join(home, 'keys'))
  writeFileSync(join(home, 'keys/audit.keys'), 'k1=0123456789abcdef0123456789abcdef\n')
  writeFileSync(join(home, 'pw'), 'a-database-password\n')
  const c = loadConfig({ home, env: { HOME: home, STRATAVORE_DATA_DIR: join(home, 'data'), STRATAVORE_DATABASE_POSTGRESQL_PASSWORD_FILE: join(home, 'pw') } })
  t.same(c.protectedPaths, [
    { path: join(home, 'data'), what: "the daemon's data directory" },
    { path: join(home, '.config/stratavore/stratavore.yaml'), what: "the daemon's config file" },
    { path: join(home, 'pw'), what: 'the file named by database.postgresql.password_file' },
    { path: join(home, 'keys/audit.keys'), what: 'the file named by security.audit_key_file' },
  ])
})

t.test("agents inherit the daemon's environment without its settings, connection URLs or any value holding a secret", async t => {
  const home = tempDir(t, 'stv-config-')
  const auditKey = 'an-audit-key-of-thirty-two-chars'
  const c = loadConfig({
    home,
    env: {
      HOME: home, PATH: '/usr/bin', LANG: 'C.UTF-8', USER: 'guest',
      DATABASE_URL: 'postgres://stv:db-password-123@db/x', AMQP_URL: 'amqp://stv:mq-password-456@mq', PGPASSWORD: 'x',
      STRATAVORE_SECURITY_AUDIT_KEY: auditKey, STRATAVORE_TOKEN: 'an-admin-token', STRATAVORE_API_URL: 'http://x',
      STRATAVORE_GITHUB_TOKEN: 'ghp_0123456789abcdefghijABCDEFGHIJ012345',
      COPY_OF_DB: 'postgres://stv:db-password-123@db/x', MY_AUDIT: auditKey, PASSWORD_IN_A_SENTENCE: `the key is ${auditKey}!`, GH: 'ghp_0123456789abcdefghijABCDEFGHIJ012345',
    },
  })
  t.same(c.agentEnvironment, { HOME: home, PATH: '/usr/bin', LANG: 'C.UTF-8', USER: 'guest' }, "USER=guest stays: the broker's default password is too short to scrub by")
  t.ok(c.daemonSecrets.includes(auditKey) && c.daemonSecrets.includes('postgres://stv:db-password-123@db/x'))
  t.notMatch(JSON.stringify(redactedConfig(c)), /an-audit-key|db-password|ghp_/, 'the redacted config hides them')
  t.same(inheritedEnvironment({ A: 'x', NODE_CRED: 'the-node-credential-value', B: 'y' }, ['the-node-credential-value']), { A: 'x', B: 'y' }, 'the node credential, given at run time')
})

t.test('run_as: resolved through getent; refused when the supervisor cannot switch users', async t => {
  const lookup: Lookup = (database, key) => {
    if (database === 'passwd' && (key === 'builder' || key === '1500')) return ['builder', 'x', '1500', '1500', '', '/home/builder', '/bin/sh']
    if (database === 'group' && key === 'agents') return ['agents', 'x', '1600', '']
    return null
  }
  t.same(resolveRunAs('a', { user: 'builder' }, lookup), { uid: 1500, gid: 1500, name: 'builder', home: '/home/builder' }, "the user's own group by default")
  t.same(resolveRunAs('a', { user: '1500', group: 'agents' }, lookup), { uid: 1500, gid: 1600, name: 'builder', home: '/home/builder' })
  t.match(errorOf(() => resolveRunAs('a', { user: 'ghost' }, lookup)), /agents\.a\.run_as\.user: no such user: ghost/)
  t.match(errorOf(() => resolveRunAs('a', { user: 'builder', group: 'ghosts' }, lookup)), /agents\.a\.run_as\.group: no such group: ghosts/)

  const home = configHome(t, 'agents:\n  boxed:\n    kind: generic\n    command: [/bin/true]\n    run_as: { user: builder }\n')
  const config = loadConfig({ home, env: { HOME: home } })
  t.match(errorOf(() => prepareAgentUsers(config, { uid: 1000, lookup })),
    /^agents\.boxed\.run_as: this supervisor runs as uid 1000, and only root can start an agent as another user \(builder\)/)
  t.same([...prepareAgentUsers(config, { uid: 1500, lookup })], [], 'a supervisor already running as that user has nothing to switch')
  const open = configHome(t, 'agents:\n  boxed:\n    kind: generic\n    command: [/bin/true]\n    run_as: { user: builder }\n')
  mkdirSync(join(open, 'data'), { mode: 0o755 })
  const openConfig = loadConfig({ home: open, env: { HOME: open, STRATAVORE_DATA_DIR: join(open, 'data') } })
  t.match(errorOf(() => prepareAgentUsers(openConfig, { uid: 0, lookup })), /the data dir .*\/data is open to them \(mode 755\); chmod 700 it/)
})

t.test('usage limits: agents.<name>.resume_after_limit and account, and the account a launch gets', async t => {
  const home = configHome(t, 'agents:\n  claude:\n    resume_after_limit: true\n    account: team-a@example\n  codex:\n    env: { OPENAI_API_KEY: sk-one }\ndaemon:\n  limit_resume_stagger_seconds: 5\n')
  const c = loadConfig({ home, env: { HOME: home } })
  t.match(c.agents.claude, { resumeAfterLimit: true, account: 'team-a@example' })
  t.equal(c.daemon.limit_resume_stagger_seconds, 5)
  t.equal(limitAccountOf(c.agents.claude!, { ANTHROPIC_API_KEY: 'ignored: the configured account wins' }), 'team-a@example')
  const byKey = limitAccountOf(c.agents.codex!, {})
  t.match(byKey, /^key:[0-9a-f]{12}$/)
  t.notMatch(byKey, /sk-one/, 'a fingerprint, never the key')
  t.not(limitAccountOf(c.agents.codex!, { OPENAI_API_KEY: 'sk-two' }), byKey, 'the launch\'s key is another account')
  t.equal(limitAccountOf(c.agents.gemini!, {}), 'default', 'nothing known: the agent\'s one default account')
  t.equal(limitAccountOf({ ...c.agents.gemini!, env: { GEMINI_CLI_HOME: '/srv/gemini' } }, {}), 'home:/srv/gemini')
  for (const [yaml, pattern] of [
    ['resume_after_limit: yes-please', /agents\.claude\.resume_after_limit: must be true or false/],
    ['account: "bad account"', /agents\.claude\.account: must match/],
  ] as const) {
    const bad = configHome(t, `agents:\n  claude:\n    ${yaml}\n`)
    t.match(errorOf(() => loadConfig({ home: bad, env: { HOME: bad } })), pattern)
  }
})
