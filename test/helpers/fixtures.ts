// Small factories for test data, going through the same use cases the API uses.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Context } from '../../src/context.js'
import { sessions } from '../../src/adapters/db/schema.js'
import type { Project } from '../../src/core/projects/project.js'
import { tempDir } from './temp-dir.js'

type TapTest = Parameters<typeof tempDir>[0]

let counter = 0
export const uniqueName = (prefix = 'proj') => `${prefix}-${process.pid}-${++counter}`

export const createProject = async (t: TapTest, ctx: Context, options: { name?: string, maxConcurrentRunners?: number } = {}): Promise<Project> => {
  const dir = join(tempDir(t), 'work')
  mkdirSync(dir)
  const project = await ctx.projects.create({ name: options.name ?? uniqueName(), path: dir }, 'test')
  if (options.maxConcurrentRunners !== undefined) return ctx.projects.setQuota(project.name, options.maxConcurrentRunners, 'test')
  return project
}

/** Sessions are written by supervisors; tests of the read side insert them directly. */
export const insertSession = async (ctx: Context, values: { id: string, projectName: string, agent?: string, runnerId?: string | null, tokensUsed?: number, resumable?: boolean, endedAt?: Date | null, lastMessageAt?: Date | null }) => {
  await ctx.database.db.insert(sessions).values({ agent: 'claude', ...values })
}
