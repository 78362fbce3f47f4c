// Per-project resource quotas. A project without a row gets the default quota.
import { eq } from 'drizzle-orm'
import type { QuotaRepository } from '../../../core/ports.js'
import { DEFAULT_MAX_CONCURRENT_RUNNERS } from '../../../core/projects/project.js'
import type { Db } from '../client.js'
import { resourceQuotas } from '../schema.js'

export const createQuotaRepository = (db: Db): QuotaRepository => ({
  async maxConcurrentRunners (project) {
    const [row] = await db.select({ max: resourceQuotas.maxConcurrentRunners }).from(resourceQuotas)
      .where(eq(resourceQuotas.projectName, project)).limit(1)
    return row?.max ?? DEFAULT_MAX_CONCURRENT_RUNNERS
  },

  async setMaxMemoryMb (project, max, at) {
    await db.update(resourceQuotas).set({ maxMemoryMb: max, updatedAt: at }).where(eq(resourceQuotas.projectName, project))
  },

  async setMaxConcurrentRunners (project, max, at) {
    await db.insert(resourceQuotas).values({ projectName: project, maxConcurrentRunners: max, createdAt: at, updatedAt: at })
      .onConflictDoUpdate({ target: resourceQuotas.projectName, set: { maxConcurrentRunners: max, updatedAt: at } })
  },
})
