// Request validation. Bodies are validated as sent: no type coercion and no silent removal of
// unknown fields (Fastify's defaults do both), so `{"force": "yes"}` or a misspelt field is a
// 400, not a guess. Query strings and params arrive as text, so they are coerced. Every string
// anywhere in a request is also checked for NUL bytes and unpaired surrogates, which Postgres
// cannot store and JSON cannot carry faithfully.
import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { hasUnsafeCharacters } from '../../core/validation.js'
import { problemOf, sendProblem } from './problem.js'

const common: Options = { allErrors: false, strict: false, useDefaults: true, removeAdditional: false }
const makeAjv = (coerceTypes: Options['coerceTypes']) => {
  const ajv = new Ajv({ ...common, coerceTypes })
  addFormats.default(ajv)
  return ajv
}

/** Finds the first unsafe string in a parsed JSON value; returns its path. */
export const findUnsafeString = (value: unknown, path = '', depth = 0): string | null => {
  if (depth > 64) return null
  if (typeof value === 'string') return hasUnsafeCharacters(value) ? path || '/' : null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnsafeString(value[i], `${path}/${i}`, depth + 1)
      if (found) return found
    }
    return null
  }
  if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (hasUnsafeCharacters(key)) return `${path}/${key}`
      const found = findUnsafeString(child, `${path}/${key}`, depth + 1)
      if (found) return found
    }
  }
  return null
}

export const validationPlugin = fp(async (app: FastifyInstance) => {
  const bodyAjv = makeAjv(false)
  const textAjv = makeAjv('array')
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema))

  app.addHook('preValidation', async (request, reply) => {
    for (const [part, value] of [['body', request.body], ['querystring', request.query], ['params', request.params]] as const) {
      const path = findUnsafeString(value)
      if (path) {
        return sendProblem(reply, problemOf(400, 'INVALID_STRING', `${part}${path} contains a NUL byte or an unpaired surrogate`, {
          instance: request.url.split('?')[0]!,
        }))
      }
    }
  })
}, { name: 'validation' })
