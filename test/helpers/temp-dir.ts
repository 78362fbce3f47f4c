// Temporary directories removed with the test, and the fake agent's path: kept apart from
// app.ts and supervisor.ts (which open databases) so that a test needing only these does not
// count as a database test (scripts/database-test-files.mjs) and run twice in CI for nothing.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** What the helpers take of a tap test (the same shape database.ts takes). */
type TapTest = { teardown(fn: () => unknown): void, passing(): boolean, comment(...args: unknown[]): void }

export const tempDir = (t: TapTest, prefix = 'stv-test-'): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export const FAKE_AGENT = fileURLToPath(new URL('../fixtures/fake-agent.mjs', import.meta.url))
