// Reading usage limits out of what Claude Code and Codex write: the records below are the real
// CLIs' (Claude Code 2.1.332 and Codex 0.169 against a mock answering 429), trimmed.
import t from 'tap'
import { createClaudeLimitReader, createCodexLimitReader, epochSeconds, resetFromText } from '../../../src/adapters/agents/usage-limit.js'

const RESET = 1796671760 // 2026-12-07T19:29:20Z
const NOW = new Date('2026-12-07T19:27:23Z')
const opts = { now: () => NOW, localZone: 'UTC' }

t.test('Claude: the stream-json assistant error carries the reset', async t => {
  const reader = createClaudeLimitReader(opts)
  reader.add({ type: 'system', subtype: 'api_retry', attempt: 1, error_status: 429, error: 'rate_limit' }, 'stream')
  t.equal(reader.limit(), null, 'a retried 429 is the CLI still working, no limit')
  reader.add({ type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: RESET, rateLimitType: 'five_hour', isUsingOverage: false } }, 'stream')
  t.equal(reader.limit(), null, 'the rate-limit event alone is a hint, not the refusal')
  reader.add({
    type: 'assistant', message: { model: '<synthetic>', content: [{ type: 'text', text: "You've hit your 5-hour limit · resets 7:29pm (UTC)" }] },
    error: 'rate_limit', is_api_error_message: true, api_error_status: 429, api_error: 'usage_limit_reached',
    api_error_params: { rate_limit_info: { status: 'rejected', resetsAt: RESET, rateLimitType: 'five_hour', isUsingOverage: false } },
  }, 'stream')
  t.same(reader.limit(), { resetsAt: new Date(RESET * 1000), message: "You've hit your 5-hour limit · resets 7:29pm (UTC)", source: 'stream' })
  reader.add({ type: 'result', is_error: true, api_error: 'usage_limit_reached', result: "You've hit your 5-hour limit · resets 7:29pm (UTC)" }, 'stream')
  t.same(reader.limit()?.resetsAt, new Date(RESET * 1000), 'the result keeps the exact reset, not the minute the text gives')
})

t.test('Claude: the transcript record carries it too', async t => {
  const reader = createClaudeLimitReader(opts)
  reader.add({
    type: 'assistant', isApiErrorMessage: true, error: 'rate_limit', apiError: 'usage_limit_reached', apiErrorStatus: 429,
    message: { content: [{ type: 'text', text: "You've hit your 5-hour limit · resets 7:29pm (UTC)" }] },
    apiErrorParams: { rate_limit_info: { resetsAt: RESET } }, quotaLimits: { status: 'rejected', resetsAt: RESET },
  }, 'transcript')
  t.same(reader.limit()?.resetsAt, new Date(RESET * 1000))
  t.equal(reader.limit()?.source, 'transcript', 'read from the transcript, and said so')
})

t.test('Claude: only the text says when, read in the zone it names', async t => {
  const reader = createClaudeLimitReader(opts)
  reader.add({ type: 'result', is_error: true, api_error: 'usage_limit_reached', result: "You've hit your weekly limit · resets Dec 9, 3pm (Europe/Paris)" }, 'stream')
  t.same(reader.limit()?.resetsAt, new Date('2026-12-09T14:00:00Z'))
  const noTime = createClaudeLimitReader(opts)
  noTime.add({ type: 'result', api_error: 'usage_limit_reached', result: "You've hit your limit" }, 'stream')
  t.same(noTime.limit(), { resetsAt: null, message: "You've hit your limit", source: 'stream' }, 'a limit with no time is still a limit')
})

t.test('Claude: malformed records are ignored', async t => {
  const reader = createClaudeLimitReader(opts)
  for (const record of [
    { type: 'assistant', api_error: 'usage_limit_reached', api_error_params: 'nonsense', message: 42 },
    { type: 'rate_limit_event', rate_limit_info: { status: 'rejected', resetsAt: 'soon' } },
    { type: 'assistant', api_error: 'other', message: { content: [{ text: 'resets 7pm' }] } },
    { type: 'result', api_error: ['usage_limit_reached'] },
  ]) reader.add(record as Record<string, unknown>, 'stream')
  t.same(reader.limit(), { resetsAt: null, message: null, source: 'stream' }, 'the one limit record with nothing readable in it gives a limit of unknown reset')
  const none = createClaudeLimitReader(opts)
  none.add({ type: 'assistant', message: { content: [{ type: 'text', text: 'You have hit your limit, resets 7pm (UTC)' }] } }, 'stream')
  t.equal(none.limit(), null, 'the model saying so is not the CLI saying so')
})

t.test('Codex: the rollout window that is full gives the reset', async t => {
  const reader = createCodexLimitReader(opts)
  reader.add({ type: 'event_msg', payload: { type: 'token_count', info: null, rate_limits: { primary: { used_percent: 100.0, window_minutes: 300, resets_at: RESET }, secondary: { used_percent: 40, resets_at: RESET + 86400 } } } }, 'transcript')
  t.equal(reader.limit(), null)
  reader.add({ type: 'event_msg', payload: { type: 'task_complete', error: { message: 'You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 7:29 PM.', codex_error_info: 'usage_limit_exceeded' } } }, 'transcript')
  t.same(reader.limit()?.resetsAt, new Date(RESET * 1000))
  t.match(reader.limit()?.message, /hit your usage limit/)
})

t.test('Codex: stdout alone, the time read in the local zone', async t => {
  const reader = createCodexLimitReader({ now: () => NOW, localZone: 'America/New_York' })
  reader.add({ type: 'turn.failed', error: { message: 'You’ve hit your usage limit. Visit https://chatgpt.com/settings/usage to purchase more credits or try again at 3:05 PM.' } }, 'stream')
  t.same(reader.limit()?.resetsAt, new Date('2026-12-07T20:05:00Z'))
  const other = createCodexLimitReader(opts)
  other.add({ type: 'turn.failed', error: { message: 'stream disconnected before completion' } }, 'stream')
  other.add({ type: 'event_msg', payload: { type: 'task_complete', error: null } }, 'stream')
  t.equal(other.limit(), null, 'other failures are no limit')
})

t.test('reset times in text', async t => {
  const at = (text: string, zone = 'UTC') => resetFromText(text, NOW, zone)?.toISOString() ?? null
  t.equal(at('resets 7:29pm (UTC)'), '2026-12-07T19:29:00.000Z')
  t.equal(at('resets 7pm (UTC)'), '2026-12-08T19:00:00.000Z', 'a time already past today is tomorrow')
  t.equal(at('try again at Dec 8th, 2026 7:29 PM.'), '2026-12-08T19:29:00.000Z')
  t.equal(at('resets Jan 2, 9am (UTC)'), '2027-01-02T09:00:00.000Z', 'a date in early January read in December is next year')
  t.equal(at('resets 19:30 (UTC)'), '2026-12-07T19:30:00.000Z')
  t.equal(at('resets 7:26pm (UTC)'), '2026-12-07T19:26:00.000Z', 'the minute just gone (the text drops seconds): now, not tomorrow')
  t.equal(at('resets 7:29pm (Mars/Olympus)'), null, 'an unknown zone')
  t.equal(at('resets 13pm (UTC)'), null)
  t.equal(at('resets 7:75pm (UTC)'), null)
  t.equal(at('resets Foo 8, 7pm (UTC)'), null)
  t.equal(at('resets soon'), null)
  t.equal(at(''), null)
})

t.test('epoch seconds', async t => {
  t.same(epochSeconds(RESET), new Date(RESET * 1000))
  t.same(epochSeconds(String(RESET)), new Date(RESET * 1000))
  for (const bad of [0, -5, 1e15, NaN, Infinity, 'x', null, undefined, {}]) t.equal(epochSeconds(bad), null, `${String(bad)}`)
})
