// AMQP topic matching, as RabbitMQ does it, so the in-process bus and the WebSocket filters
// select exactly what a RabbitMQ binding with the same pattern would: words are separated by
// dots, `*` matches exactly one word and `#` matches zero or more.
import { errors } from '../errors.js'

export const MAX_ROUTING_KEY_BYTES = 255
const PATTERN = /^(?:[A-Za-z0-9_-]+|\*|#)(?:\.(?:[A-Za-z0-9_-]+|\*|#))*$/

export const checkTopicPattern = (pattern: string): string => {
  if (pattern.length > MAX_ROUTING_KEY_BYTES || !PATTERN.test(pattern)) {
    throw errors.invalidArgument(`invalid routing-key pattern ${JSON.stringify(pattern)}: dot-separated words of letters, digits, "_" or "-", or "*" and "#"`)
  }
  return pattern
}

export const topicMatches = (pattern: string, routingKey: string): boolean => {
  const p = pattern.split('.')
  // As RabbitMQ splits it: the empty key has no words (so `#` matches it, `*` does not).
  const k = routingKey === '' ? [] : routingKey.split('.')
  // Classic dynamic programming over (pattern word, key word); patterns are short.
  const memo = new Map<string, boolean>()
  const match = (i: number, j: number): boolean => {
    const key = `${i},${j}`
    const cached = memo.get(key)
    if (cached !== undefined) return cached
    let result: boolean
    if (i === p.length) result = j === k.length
    else if (p[i] === '#') result = match(i + 1, j) || (j < k.length && match(i, j + 1))
    else result = j < k.length && (p[i] === '*' || p[i] === k[j]) && match(i + 1, j + 1)
    memo.set(key, result)
    return result
  }
  return match(0, 0)
}
