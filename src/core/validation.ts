// Input rules that hold on every surface (REST, WebUI, RPC, CLI). Surfaces validate shapes
// with their schemas; these checks guard the values the core stores, so that no surface can
// smuggle a NUL byte into Postgres (text and jsonb reject it) or a lone surrogate into JSON.
import { errors } from './errors.js'

export const hasUnsafeCharacters = (value: string): boolean =>
  value.includes('\u0000') || !value.isWellFormed()

export const checkText = (field: string, value: string, maxLength: number): string => {
  if (hasUnsafeCharacters(value)) throw errors.invalidArgument(`${field} contains a NUL byte or an unpaired surrogate`, { field })
  if (value.length > maxLength) throw errors.invalidArgument(`${field} is longer than ${maxLength} characters`, { field })
  return value
}

export const checkPattern = (field: string, value: string, pattern: string, description: string): string => {
  checkText(field, value, 4096)
  if (!new RegExp(pattern).test(value)) throw errors.invalidArgument(`${field} ${JSON.stringify(value)} is invalid: ${description}`, { field })
  return value
}

export const checkList = (field: string, values: string[], maxItems: number, maxLength: number): string[] => {
  if (values.length > maxItems) throw errors.invalidArgument(`${field} has more than ${maxItems} items`, { field })
  return values.map((v, i) => checkText(`${field}[${i}]`, v, maxLength))
}

export const checkInteger = (field: string, value: number, min: number, max: number): number => {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw errors.invalidArgument(`${field} must be an integer from ${min} to ${max}`, { field })
  }
  return value
}
