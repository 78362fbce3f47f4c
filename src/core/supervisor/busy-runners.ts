// The runners some piece of work is acting on, so a converge pass leaves them alone. Counted, not
// a plain set: the work that started a process and the work that reports its exit can overlap
// (an agent that exits at once is reported while its start batch is still closing), and the first
// to finish must not clear the mark the other still holds, or a pass would take the runner, which
// it sees `running` with no process here, for an orphan and restart it.
export const createBusyRunners = () => {
  const holds = new Map<string, number>()
  return {
    add (runnerId: string) { holds.set(runnerId, (holds.get(runnerId) ?? 0) + 1) },
    delete (runnerId: string) {
      const left = (holds.get(runnerId) ?? 0) - 1
      if (left > 0) holds.set(runnerId, left)
      else holds.delete(runnerId)
    },
    has: (runnerId: string) => holds.has(runnerId),
    get size () { return holds.size },
  }
}
