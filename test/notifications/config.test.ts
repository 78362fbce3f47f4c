// notifications.webhooks: checked strictly at start (one line naming the key), and never shown
// with its secrets.
import t from 'tap'
import { loadConfig, redactedConfig } from '../../src/config.js'
import { configHome, errorOf } from '../helpers/config.js'

const load = (t: Parameters<typeof configHome>[0], yaml: string, env: Record<string, string> = {}) => {
  const home = configHome(t, yaml)
  return loadConfig({ env: { HOME: home, ...env }, home })
}

const webhook = (fields: string) => `notifications:\n  webhooks:\n    - ${fields}\n`

t.test('a good list loads, with ids, defaults and the secret masked wherever the config is shown', async t => {
  const config = load(t, `notifications:
  remind_after_seconds: 600
  webhooks:
    - url: https://hooks.example.com/stratavore
      events: [runner.activity.*, runner.failed.#, system.alert.*]
      secret: a-secret-of-enough-length
    - url: https://user:pw@ntfy.example.com/topic?auth=tok
      events: ["#"]
      format: ntfy
      name: phone
`)
  t.equal(config.notifications.remind_after_seconds, 600)
  t.equal(config.webhooks.length, 2)
  t.match(config.webhooks[0], { id: /^wh-[0-9a-f]{12}$/, format: 'json', secret: 'a-secret-of-enough-length', events: ['runner.activity.*', 'runner.failed.#', 'system.alert.*'] })
  t.match(config.webhooks[1], { id: 'phone', format: 'ntfy', secret: null })
  t.equal(load(t, webhook('{ url: "https://hooks.example.com/stratavore", events: ["#"] }')).webhooks[0]!.id,
    load(t, webhook('{ url: "https://hooks.example.com/stratavore", events: ["runner.#"] }')).webhooks[0]!.id, 'the id does not depend on the patterns')
  const shown = JSON.stringify(redactedConfig(config))
  t.notMatch(shown, 'a-secret-of-enough-length')
  t.notMatch(shown, 'pw@')
  t.notMatch(shown, 'auth=tok')
  t.ok(config.daemonSecrets.includes('a-secret-of-enough-length'), 'kept from agents with the other secrets')
})

t.test('bad webhooks stop the daemon with the key named', async t => {
  const cases: Array<[string, string, RegExp]> = [
    ['a bad URL', webhook('{ url: "not a url", events: ["#"] }'), /config notifications\.webhooks\[0\]\.url: is not a URL/],
    ['another scheme', webhook('{ url: "ftp://example.com/x", events: ["#"] }'), /webhooks\[0\]\.url: must be http or https, got ftp/],
    ['an unknown format', webhook('{ url: "https://x.example", events: ["#"], format: teams }'), /webhooks\[0\]\.format: must be one of json, ntfy, slack, got "teams"/],
    ['a bad pattern', webhook('{ url: "https://x.example", events: ["runner..failed"] }'), /webhooks\[0\]\.events: invalid routing-key pattern "runner\.\.failed"/],
    ['a pattern with a space', webhook('{ url: "https://x.example", events: ["runner failed"] }'), /webhooks\[0\]\.events: invalid routing-key pattern/],
    ['no events', webhook('{ url: "https://x.example", events: [] }'), /webhooks\[0\]\.events: must be a non-empty list/],
    ['a short secret', webhook('{ url: "https://x.example", events: ["#"], secret: short }'), /webhooks\[0\]\.secret: must be a string of at least 16 characters/],
    ['an unknown key', webhook('{ url: "https://x.example", events: ["#"], sekret: abc }'), /webhooks\[0\]\.sekret: is not a known key/],
    ['not a list', 'notifications:\n  webhooks: { url: "https://x.example" }\n', /notifications\.webhooks: must be a list/],
    ['the same webhook twice', `notifications:\n  webhooks:\n    - { url: "https://x.example", events: ["#"] }\n    - { url: "https://x.example", events: ["runner.#"] }\n`, /webhooks\[1\]: is a second webhook with id wh-/],
    ['an unknown notifications key', 'notifications:\n  remind_after: 5\n', /config notifications\.remind_after: is not a known key/],
    ['a cap below the base', 'notifications:\n  retry_base_ms: 5000\n  retry_cap_ms: 1000\n', /notifications\.retry_cap_ms: must be at least notifications\.retry_base_ms/],
  ]
  for (const [what, yaml, message] of cases) t.match(errorOf(() => load(t, yaml)), message, what)
  t.match(errorOf(() => load(t, '', { STRATAVORE_NOTIFICATIONS_WEBHOOKS: 'https://x.example' })), /notifications\.webhooks are set in the config file only/)
  t.equal(load(t, '', { STRATAVORE_NOTIFICATIONS_REMIND_AFTER_SECONDS: '0' }).notifications.remind_after_seconds, 0, 'the other keys take variables')
})
