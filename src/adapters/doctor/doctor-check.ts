// One line of `stratavore doctor`, and running a check so that a throw or a hang is a line too.
export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface DoctorCheck { name: string, status: CheckStatus, detail: string }

export const ok = (name: string, detail: string): DoctorCheck => ({ name, status: 'ok', detail })
export const warn = (name: string, detail: string): DoctorCheck => ({ name, status: 'warn', detail })
export const fail = (name: string, detail: string): DoctorCheck => ({ name, status: 'fail', detail })

const TIMEOUT_MS = 10_000

/** Runs a check with a deadline; an error or the deadline is a failed line naming it. */
export const runCheck = async (name: string, check: () => Promise<DoctorCheck | DoctorCheck[]>, timeoutMs = TIMEOUT_MS): Promise<DoctorCheck[]> => {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs) })
  try {
    const result = await Promise.race([check(), deadline])
    return Array.isArray(result) ? result : [result]
  } catch (err) {
    return [fail(name, (err as Error).message.split('\n')[0] ?? 'failed')]
  } finally {
    clearTimeout(timer)
  }
}
