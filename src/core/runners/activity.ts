// What a runner's agent is doing, beside its process status: working, waiting for a person
// (a permission prompt, a question), idle after a turn, rate-limited, in error, or unknown. Read
// from the agent CLI's own structured signals (hooks, stream events) by the supervisor; never
// guessed from a process being alive. A new process starts `unknown` until its agent says more.
//
//   unknown ──prompt/tool──> working ──permission asked──> waiting_permission ──approved──> working
//                              │  └──question / elicitation──> waiting_input ──answered──> working
//                              ├──turn over──> idle ──next prompt──> working
//                              ├──limit hit──> rate_limited (resetsAt when the CLI says)
//                              └──failure──> error
//
// Each change is one `runner.activity` event; the same state with the same detail again is no change.

export const ACTIVITY_STATES = ['working', 'waiting_permission', 'waiting_input', 'idle', 'rate_limited', 'error', 'unknown'] as const
export type ActivityState = typeof ACTIVITY_STATES[number]

/** Where the state was read: a CLI hook, its structured stdout, its transcript, or its screen (last resort). */
export const ACTIVITY_SOURCES = ['hook', 'stream', 'transcript', 'screen'] as const
export type ActivitySource = typeof ACTIVITY_SOURCES[number]

/** The states in which the agent waits for a person: what the inbox lists. */
export const WAITING_STATES: readonly ActivityState[] = ['waiting_permission', 'waiting_input']

/** At most this many characters of detail are kept (a question, a tool and its command). */
export const MAX_ACTIVITY_DETAIL = 500

export interface RunnerActivity {
  state: ActivityState
  /** null only for the initial `unknown` of a process nothing has been heard from. */
  source: ActivitySource | null
  /** What the agent gave: the tool and command awaiting permission, the question, the error. */
  detail: string | null
  /** When this state began (the supervisor's clock when the signal arrived). */
  since: Date | null
  /** When a rate limit lifts, if the CLI said. */
  resetsAt: Date | null
}

/** One signal read from an agent, before it is recorded. */
export interface ActivitySignal {
  state: ActivityState
  source: ActivitySource
  detail: string | null
  resetsAt?: Date | null
  /** When the runner is already in this state, its detail stays (a generic follow-up of a precise signal). */
  keepsDetail?: boolean
}

export const UNKNOWN_ACTIVITY: RunnerActivity = { state: 'unknown', source: null, detail: null, since: null, resetsAt: null }

export const isWaiting = (state: ActivityState): boolean => WAITING_STATES.includes(state)

/** A detail as one line, bounded: an agent's text never grows a row or an event without limit. */
export const detailLine = (text: unknown): string | null => {
  if (typeof text !== 'string') return null
  const line = text.replace(/\s+/g, ' ').trim()
  if (line === '') return null
  return line.length > MAX_ACTIVITY_DETAIL ? `${line.slice(0, MAX_ACTIVITY_DETAIL - 1)}…` : line
}

/** The activity after `signal`, received at `since`; null when it changes nothing a person would see. */
export const nextActivity = (current: RunnerActivity, signal: ActivitySignal, since: Date): RunnerActivity | null => {
  if (signal.keepsDetail && current.state === signal.state) return null
  const resetsAt = signal.resetsAt ?? null
  const same = current.state === signal.state && current.detail === signal.detail &&
    (current.resetsAt?.getTime() ?? null) === (resetsAt?.getTime() ?? null)
  return same ? null : { state: signal.state, source: signal.source, detail: signal.detail, since, resetsAt }
}

/** The data of a runner.activity event (names fixed by the event catalogue: other parts consume them). */
export const activityEventData = (runnerId: string, activity: RunnerActivity, previousState: ActivityState) => ({
  runnerId,
  state: activity.state,
  previousState,
  source: activity.source,
  detail: activity.detail,
  since: activity.since?.toISOString() ?? null,
  resetsAt: activity.resetsAt?.toISOString() ?? null,
})
