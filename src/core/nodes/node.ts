// What a node may say about itself (name, labels, agents) and the shapes every surface checks
// before the core stores them. Labels are a small map of short keys and values, as Kubernetes
// keeps them, so a selector can match them exactly.
import { errors } from '../errors.js'
import { checkInteger, checkPattern, checkText } from '../validation.js'
import type { AgentVersions, Labels } from './ports.js'

export const NODE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'
export const LABEL_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$'
export const LABEL_VALUE_PATTERN = '^[A-Za-z0-9._-]{0,63}$'
export const AGENT_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,31}$'
export const MAX_LABELS = 32
export const MAX_AGENTS = 32
export const MAX_NODE_CAPACITY = 10_000

const checkMap = (field: string, value: unknown, max: number, check: (key: string, v: unknown) => string): Record<string, string> => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw errors.invalidArgument(`${field} must be an object`, { field })
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > max) throw errors.invalidArgument(`${field} has more than ${max} entries`, { field })
  return Object.fromEntries(entries.map(([k, v]) => [k, check(k, v)]))
}

export const checkLabels = (field: string, value: unknown): Labels => checkMap(field, value, MAX_LABELS, (key, v) => {
  checkPattern(`${field} key`, key, LABEL_KEY_PATTERN, 'up to 63 letters, digits and ._/- starting with a letter or digit')
  if (typeof v !== 'string') throw errors.invalidArgument(`${field}.${key} must be a string`, { field })
  return checkPattern(`${field}.${key}`, v, LABEL_VALUE_PATTERN, 'up to 63 letters, digits and ._-')
})

export const checkAgentVersions = (field: string, value: unknown): AgentVersions => checkMap(field, value, MAX_AGENTS, (key, v) => {
  checkPattern(`${field} key`, key, AGENT_NAME_PATTERN, 'an agent name: lower-case letters, digits, _ and -')
  if (typeof v !== 'string') throw errors.invalidArgument(`${field}.${key} must be a string`, { field })
  return checkText(`${field}.${key}`, v, 128)
})

export const checkNodeName = (name: string) => checkPattern('name', name, NODE_NAME_PATTERN, 'up to 63 letters, digits and ._- starting with a letter or digit')

export const checkCapacity = (capacity: number) => checkInteger('capacity', capacity, 1, MAX_NODE_CAPACITY)

/** `k=v` pairs (CLI flags) as a labels map. */
export const parseLabelPairs = (field: string, pairs: string[]): Labels => {
  const labels: Labels = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw errors.invalidArgument(`${field} ${JSON.stringify(pair)} must be key=value`, { field })
    labels[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return checkLabels(field, labels)
}

/** The one command an admin runs on the new host. */
export const joinCommand = (serverUrl: string, token: string) => `stratavored supervisor --server ${serverUrl} --join-token ${token}`
