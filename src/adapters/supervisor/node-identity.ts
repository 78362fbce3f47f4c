// A supervisor node's identity: a stable id and a secret credential, made on first start and
// kept in the data dir (mode 0600). The database holds only the credential's hash (who may
// re-register this id) and a key derived from it (what the API MACs attach tickets with), so
// reading the nodes table does not reveal the credential itself.
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { v7 as uuidv7 } from 'uuid'

export interface NodeIdentity { id: string, credential: string }

const FILE = 'node-identity.json'

export const loadOrCreateNodeIdentity = (dataDir: string): NodeIdentity => {
  const path = join(dataDir, FILE)
  try {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<NodeIdentity>
    if (typeof stored.id === 'string' && typeof stored.credential === 'string' && stored.credential.length >= 32) return { id: stored.id, credential: stored.credential }
    throw new Error(`${path} is not a node identity (delete it to make a new one)`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const identity = { id: uuidv7(), credential: randomBytes(32).toString('base64url') }
  // wx: two supervisors starting at once on one data dir cannot both write an identity.
  writeFileSync(path, JSON.stringify(identity), { mode: 0o600, flag: 'wx' })
  return identity
}

export const credentialHash = (credential: string) => createHash('sha256').update(credential).digest('hex')

export const attachKeyOf = (credential: string) => createHmac('sha256', credential).update('stratavore attach ticket v1').digest('base64url')
