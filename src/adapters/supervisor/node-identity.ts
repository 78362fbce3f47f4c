// A supervisor node's identity: a stable id and a secret credential, made on first start and
// kept in the data dir (mode 0600). The database holds only the credential's hash (who may
// re-register this id) and a key derived from it (what the API MACs attach tickets with), so
// reading the nodes table does not reveal the credential itself.
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'
import { ensureDataDir } from '../system/data-dir.js'

export interface NodeIdentity { id: string, credential: string }

const FILE = 'node-identity.json'

/** The identity kept in the data dir; null when there is none yet. */
export const loadNodeIdentity = (dataDir: string): NodeIdentity | null => {
  const path = join(dataDir, FILE)
  try {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<NodeIdentity>
    if (typeof stored.id === 'string' && typeof stored.credential === 'string' && stored.credential.length >= 32) return { id: stored.id, credential: stored.credential }
    throw new Error(`${path} is not a node identity (delete it to make a new one)`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    return null
  }
}

/** Keeps an identity (made here, or given by the control plane for a join token), readable by this user alone. */
export const saveNodeIdentity = (dataDir: string, identity: NodeIdentity) => {
  ensureDataDir(dataDir)
  // wx: two supervisors starting at once on one data dir cannot both write an identity.
  writeFileSync(join(dataDir, FILE), JSON.stringify(identity), { mode: 0o600, flag: 'wx' })
}

export const loadOrCreateNodeIdentity = (dataDir: string): NodeIdentity => {
  const stored = loadNodeIdentity(dataDir)
  if (stored) return stored
  const identity = { id: uuidv7(), credential: randomBytes(32).toString('base64url') }
  saveNodeIdentity(dataDir, identity)
  return identity
}

export const credentialHash = (credential: string) => createHash('sha256').update(credential).digest('hex')

export const attachKeyOf = (credential: string) => createHmac('sha256', credential).update('stratavore attach ticket v1').digest('base64url')
