// Key rotation: rows keep the id of the key that signed them, so a daemon that signs with a
// new key and keeps the old one verifies the whole chain across the boundary; a daemon
// without a row's key reports unknown_key rather than calling the row forged.
import t from 'tap'
import { asc } from 'drizzle-orm'
import { createHmacSigner } from '../../src/adapters/audit/hmac-signer.js'
import { createAuditReader } from '../../src/adapters/db/repositories/audit-reader.js'
import { events } from '../../src/adapters/db/schema.js'
import { createUnitOfWork } from '../../src/adapters/db/unit-of-work.js'
import { uuidV7Ids } from '../../src/adapters/system/clock-and-ids.js'
import type { AuditKey } from '../../src/core/audit/audit-keys.js'
import { createAuditService } from '../../src/core/audit/audit-service.js'
import type { DomainEvent } from '../../src/core/events/event.js'
import { backendName, openTestDatabase } from '../helpers/database.js'

const k1: AuditKey = { id: 'k1', secret: 'first-secret-0123456789' }
const k2: AuditKey = { id: 'k2', secret: 'second-secret-0123456789' }

t.test(`audit key rotation on ${backendName()}`, async t => {
  const database = await openTestDatabase(t)
  const db = database.db
  let seq = 0
  const event = (project: string): DomainEvent => ({
    eventId: uuidV7Ids.next(), type: 'project.quota_changed', occurredAt: new Date(), project, aggregateType: 'project',
    aggregateId: project || 'system', seq: ++seq, actor: 'test', data: { maxConcurrentRunners: seq },
  })
  const append = (keys: AuditKey[], project: string, count: number) => createUnitOfWork(db, createHmacSigner(keys))
    .run(async tx => { for (let i = 0; i < count; i++) await tx.events.append(event(project)) })
  const verify = (keys: AuditKey[], chain?: string) =>
    createAuditService({ reader: createAuditReader(db), signer: createHmacSigner(keys), pageSize: 2 }).verify(chain === undefined ? {} : { chain })

  // '_system' sorts before 'zeta' under C and ICU/glibc collations alike.
  await append([k1], 'zeta', 3)
  await append([k1], '', 2) // no project: the _system chain
  await append([k2, k1], 'zeta', 3)
  await append([k2, k1], '', 1)

  t.test('rows keep the id of the key that signed them', async t => {
    const rows = await db.select({ chain: events.chain, seq: events.chainSeq, keyId: events.keyId }).from(events).orderBy(asc(events.chain), asc(events.chainSeq))
    t.same(rows.map(r => `${r.chain}/${r.seq}/${r.keyId}`), ['_system/1/k1', '_system/2/k1', '_system/3/k2', 'zeta/1/k1', 'zeta/2/k1', 'zeta/3/k1', 'zeta/4/k2', 'zeta/5/k2', 'zeta/6/k2'])
  })

  t.test('with the new key first and the old one kept, every chain verifies across the boundary (pages of 2)', async t => {
    t.same(await verify([k2, k1]), { ok: true, checkedRows: 9, chains: 2, findings: [], complete: true })
    t.same(await verify([k2, k1], 'zeta'), { ok: true, checkedRows: 6, chains: 1, findings: [], complete: true })
    t.same(await verify([k2, k1], 'nothing-here'), { ok: true, checkedRows: 0, chains: 0, findings: [], complete: true })
  })

  t.test('a key id the daemon does not have is reported as unknown_key', async t => {
    t.match(await verify([k2]), { ok: false, checkedRows: 1, chains: 1, firstBroken: { chain: '_system', chainSeq: 1, reason: 'unknown_key' } }, 'old key dropped')
    t.match(await verify([k1], 'zeta'), { ok: false, checkedRows: 4, firstBroken: { chain: 'zeta', chainSeq: 4, reason: 'unknown_key' } }, 'new key missing')
  })

  t.test('a key with the right id but the wrong secret is a mac_mismatch', async t => {
    t.match(await verify([k2, { id: 'k1', secret: 'not-the-first-secret-0000' }]), { ok: false, firstBroken: { chain: '_system', chainSeq: 1, reason: 'mac_mismatch' } })
  })
})
