// Supervisor nodes: the ones hosts joined with a join token (status down until their supervisor
// registers) and the list with each node's load. Placement reads the nodes in the launch's own
// statement (launch-admission.ts).
import { and, asc, eq, notInArray, sql } from 'drizzle-orm'
import type { NodeRepository, NodeSummary } from '../../../core/ports.js'
import { TERMINAL_STATUSES } from '../../../core/runners/runner.js'
import type { Db } from '../client.js'
import { nodes, runners } from '../schema.js'

const summaryColumns = {
  id: nodes.id, name: nodes.name, hostname: nodes.hostname, version: nodes.version, status: nodes.status, capacity: nodes.capacity,
  labels: nodes.labels, agents: nodes.agents, registeredAt: nodes.registeredAt, lastHeartbeat: nodes.lastHeartbeat,
}
type SummaryRow = Omit<NodeSummary, 'status' | 'activeRunners'> & { status: string }
const toSummary = (row: SummaryRow, activeRunners: number): NodeSummary => ({ ...row, status: row.status as NodeSummary['status'], activeRunners })

export const createNodeRepository = (db: Db): NodeRepository => ({
  async insertJoined (node) {
    const [row] = await db.insert(nodes).values({ ...node, status: 'down', eventSeq: 1 }).onConflictDoNothing().returning(summaryColumns)
    return row ? toSummary(row, 0) : null
  },

  async list () {
    const rows = await db.select({ ...summaryColumns, activeRunners: sql<number>`count(${runners.id})::int` }).from(nodes)
      .leftJoin(runners, and(eq(runners.nodeId, nodes.id), notInArray(runners.status, [...TERMINAL_STATUSES])))
      .groupBy(nodes.id)
      .orderBy(asc(nodes.name))
    return rows.map(({ activeRunners, ...row }) => toSummary(row, Number(activeRunners)))
  },
})
