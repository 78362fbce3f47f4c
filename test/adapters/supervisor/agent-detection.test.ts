// Which agent CLIs a host has: resolved on PATH (or as an absolute path), the version read from
// `--version`; a missing command is left out, an unreadable version reported as ''.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { detectAgents } from '../../../src/adapters/supervisor/agent-detection.js'
import { tempDir } from '../../helpers/temp-dir.js'

t.test('detects the configured agents found here, with their versions', async t => {
  const bin = tempDir(t)
  const script = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`)
    chmodSync(join(bin, name), 0o755)
  }
  script('versioned-cli', 'echo "versioned-cli 2.0.14 (Claude Code)"')
  script('silent-cli', 'exit 3')
  script('hung-cli', 'exec sleep 30')
  const agents = {
    versioned: { command: ['versioned-cli', '--some-flag'] },
    silent: { command: ['silent-cli'] },
    absolute: { command: [join(bin, 'versioned-cli')] },
    hung: { command: ['hung-cli'] },
    gone: { command: ['no-such-cli-anywhere'] },
    relative: { command: ['./versioned-cli'] },
  }
  const env = { PATH: `${bin}:/usr/bin:/bin` }
  t.same(await detectAgents(agents, { env, versions: true }), { versioned: '2.0.14', silent: '', absolute: '2.0.14', hung: '' })
  t.same(await detectAgents(agents, { env, versions: false }), { versioned: '', silent: '', absolute: '', hung: '' }, 'without versions: present ones only')
})
