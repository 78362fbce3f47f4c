// RPC requests are checked against the very TypeBox schemas of the REST routes
// (src/api/rest/schemas.ts), after mapping a proto message to the REST shape, with the same Ajv
// settings as src/api/plugins/validation.ts (no coercion, no removal, defaults filled in) and
// the same NUL-byte and lone-surrogate check. So a value REST refuses, RPC refuses, with the
// same stable code (VALIDATION_FAILED, INVALID_STRING), and the use cases see the same input.
import type { Static, TSchema } from '@sinclair/typebox'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { AppError } from '../../core/errors.js'
import { findUnsafeString } from '../plugins/validation.js'

const ajv = new Ajv({ allErrors: false, strict: false, useDefaults: true, removeAdditional: false, coerceTypes: false })
addFormats.default(ajv)
const compiled = new WeakMap<TSchema, ValidateFunction>()

// REST names fields in camelCase, proto in snake_case: messages name the proto field.
const snake = (path: string) => path.replace(/[A-Z]/g, c => `_${c.toLowerCase()}`).replace(/^\//, '').replaceAll('/', '.')

const invalid = (code: string, message: string) => new AppError({ code, kind: 'invalid_argument', message })

/** Returns `value` (with schema defaults filled in) or throws INVALID_STRING / VALIDATION_FAILED. */
export const checkShape = <T extends TSchema>(schema: T, value: Record<string, unknown>): Static<T> => {
  const unsafe = findUnsafeString(value)
  if (unsafe) throw invalid('INVALID_STRING', `${snake(unsafe)} contains a NUL byte or an unpaired surrogate`)
  let validate = compiled.get(schema)
  if (!validate) compiled.set(schema, validate = ajv.compile(schema))
  if (!validate(value)) {
    const [first] = validate.errors ?? []
    const extra = first?.params && 'additionalProperty' in first.params ? `/${String(first.params.additionalProperty)}` : ''
    const field = snake(`${first?.instancePath ?? ''}${extra}`) || 'request'
    throw invalid('VALIDATION_FAILED', `${field} ${first?.message ?? 'is invalid'}`)
  }
  return value as Static<T>
}

/** Drops undefined members, so that an unset proto field is an absent REST field. */
export const defined = <T extends Record<string, unknown>>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
