// docs/api/events.md from the event catalogue: the envelope and the data messages of
// proto/stratavore/v1/events.proto, and its "Routing keys" table, checked against the types
// the code writes (EVENT_TYPES in src/core/events/event.ts). A type in one and not the other
// fails the generation, so the catalogue cannot drift from the code unnoticed.
import { EVENT_TYPES } from '../../src/core/events/event.js'
import type { ProtoFile } from './proto-files.js'
import { anchorOf, localLinks, typeNames, typesMarkdown } from './proto-markdown.js'
import { cell, escapeMarkdown, generatedHeader } from './markdown.js'

export const EVENTS_PROTO = 'stratavore/v1/events.proto'

export interface RoutingKey {
  key: string
  type: string
  /** The data message, when the line names one. */
  message: string | null
  note: string
}

/** The lines `  <routing key>   <Message> (note)` of the comment that starts with "Routing keys:". */
export const routingKeys = (file: ProtoFile, messages: Set<string>): { intro: string, keys: RoutingKey[], outro: string } => {
  const block = file.proto.messageType.map((_, i) => file.detached([4, i])).flat().find(c => c.startsWith('Routing keys:'))
  if (!block) throw new Error(`${EVENTS_PROTO}: no comment starting "Routing keys:" (the catalogue of routing keys)`)
  const lines = block.split('\n')
  const rows = lines.filter(line => /^\s+\S+\s+\S/.test(line))
  const types = [...EVENT_TYPES].sort((a, b) => b.length - a.length)
  const keys = rows.map(line => {
    const [, key = '', rest = ''] = /^\s+(\S+)\s+(.*)$/.exec(line) ?? []
    const [first = '', ...more] = rest.split(/\s+/)
    const message = messages.has(first) ? first : null
    const note = (message ? more.join(' ') : rest).replace(/^\((.*)\)$/, '$1')
    const type = types.find(t => key === t || key.startsWith(`${t}.`))
    if (!type) throw new Error(`${EVENTS_PROTO}: routing key ${key} has no type in EVENT_TYPES (src/core/events/event.ts)`)
    if (!message && /^[A-Z]\w*$/.test(first)) throw new Error(`${EVENTS_PROTO}: routing key ${key} names ${first}, which the file does not define`)
    return { key, type, message, note }
  })
  const missing = EVENT_TYPES.filter(t => !keys.some(k => k.type === t))
  if (missing.length > 0) throw new Error(`${EVENTS_PROTO}: the "Routing keys" comment lacks ${missing.join(', ')} (in EVENT_TYPES, src/core/events/event.ts): add a line for each`)
  const firstRow = lines.indexOf(rows[0]!)
  const lastRow = lines.indexOf(rows[rows.length - 1]!)
  return {
    intro: lines.slice(0, firstRow).join(' ').replace(/^Routing keys:\s*/, ''),
    keys,
    outro: lines.slice(lastRow + 1).join(' '),
  }
}

export const renderEventsReference = (files: ProtoFile[]): string => {
  const file = files.find(f => f.proto.name === EVENTS_PROTO)
  if (!file) throw new Error(`proto/${EVENTS_PROTO} is missing`)
  const defined = new Set(typeNames(file))
  const links = localLinks(defined)
  const { intro, keys, outro } = routingKeys(file, defined)
  const usedBy = (name: string) => keys.filter(k => k.message === name).map(k => `\`${k.key}\``)
  const keyRows = keys.map(k =>
    `| \`${k.key}\` | \`${k.type}\` | ${k.message ? `[\`${k.message}\`](${anchorOf(k.message)})` : '-'} | ${cell(k.note)} |`)
  const envelope = typesMarkdown(file, { links, level: '##' }, name => name === 'Event')
  const data = typesMarkdown(file, {
    links,
    level: '###',
    note: name => usedBy(name).length > 0 ? `Data of ${usedBy(name).join(', ')}.` : undefined,
  }, name => name !== 'Event')
  return [
    generatedHeader(`proto/${EVENTS_PROTO} and EVENT_TYPES in src/core/events/event.ts`),
    '# Events reference',
    escapeMarkdown(file.header),
    'How events are written (outbox and audit row in the state change\'s transaction), delivered (at least once, ' +
      'deduplicated on `event_id`, ordered per aggregate by `seq`) and consumed (RabbitMQ topology, the WebSocket feed, ' +
      '`WatchEvents`): the README\'s [Events](../../README.md#events) section and the [RPC reference](rpc.md).',
    ...envelope,
    '## Routing keys',
    `${escapeMarkdown(intro)} Bind a queue with a pattern: \`*\` matches one word, \`#\` zero or more (\`runner.*.myproject\`, \`runner.#\`, \`system.alert.*\`).`,
    ['| routing key | type | data | notes |', '| --- | --- | --- | --- |', ...keyRows].join('\n'),
    escapeMarkdown(outro),
    '## Data messages',
    'The `data` of each event, by type, as JSON (the `JSON` column).',
    ...data,
  ].filter(Boolean).join('\n\n') + '\n'
}
