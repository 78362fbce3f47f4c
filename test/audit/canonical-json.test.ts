// Golden vectors for the text audit MACs cover. If one of these changes, rows already stored
// stop verifying: change the format only with a migration path, never by accident.
import t from 'tap'
import { hmacHex } from '../../src/adapters/audit/hmac-signer.js'
import { macInput, type AuditRecord } from '../../src/core/audit/audit-record.js'
import { canonicalJson } from '../../src/core/audit/canonical-json.js'

t.test('canonicalJson: RFC 8785 (JCS) vectors', async t => {
  // RFC 8785 §3.2.2: literals, numbers in ECMAScript form, minimal string escaping.
  const input = '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
    ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}'
  t.equal(canonicalJson(JSON.parse(input)),
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
  // RFC 8785 §3.2.3: keys sorted by UTF-16 code units (the emoji's surrogates sort before U+FB33).
  const keys = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', 1: 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' }
  const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'] as const
  // (Not via Object.keys of the parsed result: JS lists integer-like keys such as "1" first.)
  t.equal(canonicalJson(keys), `{${order.map(k => `${JSON.stringify(k)}:${JSON.stringify(keys[k])}`).join(',')}}`)
})

t.test('canonicalJson: key order at every depth does not matter; JSON.stringify semantics otherwise', async t => {
  t.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}')
  t.equal(canonicalJson({ a: { c: null, d: [3, { y: 2, z: 1 }] }, b: 1 }), canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }))
  t.equal(canonicalJson({ gone: undefined, kept: [undefined, () => 1, NaN, -0], when: new Date(0) }), '{"kept":[null,null,null,0],"when":"1970-01-01T00:00:00.000Z"}')
  t.equal(canonicalJson('x'), '"x"')
  t.equal(canonicalJson([]), '[]')
  t.equal(canonicalJson({}), '{}')
  t.throws(() => canonicalJson(undefined), TypeError)
  t.throws(() => canonicalJson({ n: 1n }), TypeError)
  // What is signed before the insert equals what is rebuilt from the jsonb read back.
  const value = { z: 'é\u2028', a: [1.5, 1e21, -2, true], m: { y: undefined, x: new Date(86_400_000) } }
  t.equal(canonicalJson(value), canonicalJson(JSON.parse(JSON.stringify(value))))
})

const golden: AuditRecord = {
  chain: 'demo',
  chainSeq: 1,
  eventId: '0190F1C4-0000-7000-8000-000000000001',
  eventType: 'project.created',
  entityType: 'project',
  entityId: 'demo',
  project: 'demo',
  actor: 'alice',
  occurredAt: new Date('2026-01-02T03:04:05.678Z'),
  data: { tags: ['b', 'a'], path: '/srv/demo', description: '' },
}

t.test('macInput and the MAC: golden vectors (HMACs cross-checked with `openssl dgst -sha256 -hmac`)', async t => {
  const first = macInput('', golden)
  t.equal(first, '\n{"actor":"alice","chain":"demo","chain_seq":1,"data":{"description":"","path":"/srv/demo","tags":["b","a"]},' +
    '"entity_id":"demo","entity_type":"project","event_id":"0190f1c4-0000-7000-8000-000000000001","event_type":"project.created",' +
    '"occurred_at":"2026-01-02T03:04:05.678Z","project":"demo"}')
  const mac1 = hmacHex('golden-key-0123456789', first)
  t.equal(mac1, 'dcfb674f77bb203d7f9cec97b83756c07a12b24252d7fb9666b1f0a56d2ad138')
  const second = macInput(mac1, { ...golden, chainSeq: 2, eventId: '0190f1c4-0000-7000-8000-000000000002', eventType: 'project.archived', occurredAt: new Date('2026-01-02T03:04:06Z'), data: {} })
  t.ok(second.startsWith(`${mac1}\n{`), 'the previous MAC comes first')
  t.equal(hmacHex('golden-key-0123456789', second), 'ddda33b68a546918d74ab0730b2f9a4ef21e0a157e3bdc98f800bfe9532b7424')
  t.equal(macInput('', { ...golden, project: null }).includes('"project":null'), true, 'a missing project is signed as null')
})
