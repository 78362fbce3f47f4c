// Starts test/fixtures/fake-agent.mjs through the adapter, with teardown, and waits for what it
// prints: tests await output or a process state, never a fixed sleep.
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { spawnAgentProcess } from '../../../src/adapters/pty/spawn-agent.js'
import type { AgentProcess, SpawnOptions } from '../../../src/adapters/pty/types.js'

export const FAKE_AGENT = fileURLToPath(new URL('../../fixtures/fake-agent.mjs', import.meta.url))

interface Teardown { teardown(fn: () => unknown): void }

export function startFakeAgent(t: Teardown, args: string[], options: Partial<SpawnOptions> = {}): AgentProcess {
  const agent = spawnAgentProcess({
    argv: [process.execPath, FAKE_AGENT, ...args],
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    terminal: true,
    ...options,
  })
  t.teardown(() => agent.stop(0))
  return agent
}

/** Resolves with the first match of `pattern` in the output so far or to come. */
export function waitForOutput(agent: AgentProcess, pattern: RegExp, what: string, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let seen = agent.scrollback().toString('utf8')
    const check = (): boolean => {
      const match = seen.match(pattern)
      if (!match) return false
      clearTimeout(timer)
      unsubscribe()
      resolve(match)
      return true
    }
    const timer = setTimeout(() => {
      unsubscribe()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; output ends with ${JSON.stringify(seen.slice(-300))}`))
    }, timeoutMs)
    const unsubscribe = agent.onOutput(chunk => {
      // Keep a bounded tail: a flood must not grow the test's own memory.
      seen = (seen + chunk.toString('utf8')).slice(-64 * 1024)
      check()
    })
    check()
  })
}

/** Gone, or a zombie waiting to be reaped: either way it runs no more. */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}
