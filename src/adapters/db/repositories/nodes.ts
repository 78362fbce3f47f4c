// Supervisor nodes. Launch places a runner on the ready node with the most room left.
import { and, asc, eq, notInArray, sql } from 'drizzle-orm'
import type { NodeRepository } from '../../../core/ports.js'
import { TERMINAL_STATUSES } from '../../../core/runners/runner.js'
import type { Db } from '../client.js'
import { nodes, runners } from '../schema.js'

const nodeForLaunch = (db: Db) => db.select({ id: nodes.id }).from(nodes)
  .leftJoin(runners, and(eq(runners.nodeId, nodes.id), notInArray(runners.status, [...TERMINAL_STATUSES])))
  .where(eq(nodes.status, 'ready'))
  .groupBy(nodes.id, nodes.capacity)
  .having(sql`count(${runners.id}) < ${nodes.capacity}`)
  .orderBy(sql`${nodes.capacity} - count(${runners.id}) desc`, asc(nodes.id))
  .limit(1)

export const createNodeRepository = (db: Db): NodeRepository => ({
  async pickForLaunch () {
    const [row] = await nodeForLaunch(db)
    return row?.id ?? null
  },
})
