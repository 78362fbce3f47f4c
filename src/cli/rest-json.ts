// The CLI's --json: an RPC message in the shape the REST API gives the same resource
// (src/api/rest/mappers.ts), so that a script can switch between `stratavore ... --json` and
// `curl /api/v1/...` without rewriting its jq: camelCase names (json_name where the proto sets
// one, as the event envelope does), enums as their lower-case word (`running`, not
// `RUNNER_STATUS_RUNNING`), 64-bit integers as numbers, times as ISO 8601 with milliseconds, and
// every field present, an unset optional one as null. Proto3 JSON stays available with
// `--output proto-json`. Written over the descriptors, so a field added to a proto needs nothing here.
import { toJson, ScalarType, type DescEnum, type DescField, type DescMessage, type MessageShape } from '@bufbuild/protobuf'
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const LONG = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64])

/** RUNNER_STATUS_RUNNING → running; a number the CLI does not know (a newer daemon) as it is. */
const enumWord = (desc: DescEnum, value: number): Json => {
  const known = desc.values.find(v => v.number === value)
  return known ? known.name.slice(desc.sharedPrefix?.length ?? 0).toLowerCase() : value
}

const scalar = (type: ScalarType, value: unknown): Json => {
  if (LONG.has(type)) return Number(value)
  if (type === ScalarType.BYTES) return Buffer.from(value as Uint8Array).toString('base64')
  return value as Json
}

const messageValue = (desc: DescMessage, value: unknown): Json => {
  if (value === undefined) return null
  if (desc.typeName === 'google.protobuf.Timestamp') return timestampDate(value as Timestamp).toISOString()
  // A message field of Struct, Value or ListValue holds plain JSON, of a wrapper (Int64Value...)
  // its primitive: protobuf-es unwraps them.
  if (/^google\.protobuf\.(Struct|Value|ListValue)$/.test(desc.typeName)) return value as Json
  if (/^google\.protobuf\.\w+Value$/.test(desc.typeName)) return typeof value === 'bigint' ? Number(value) : value as Json
  if (desc.typeName.startsWith('google.protobuf.')) return toJson(desc, value as MessageShape<DescMessage>) as Json
  return restJson(desc, value as MessageShape<DescMessage>)
}

const fieldValue = (field: DescField, value: unknown): Json => {
  switch (field.fieldKind) {
    case 'scalar': return value === undefined ? null : scalar(field.scalar, value)
    case 'enum': return value === undefined ? null : enumWord(field.enum, value as number)
    case 'message': return messageValue(field.message, value)
    case 'list': return (value as unknown[]).map(item =>
      field.listKind === 'scalar' ? scalar(field.scalar, item) : field.listKind === 'enum' ? enumWord(field.enum, item as number) : messageValue(field.message, item))
    case 'map': return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key,
      field.mapKind === 'scalar' ? scalar(field.scalar, item) : field.mapKind === 'enum' ? enumWord(field.enum, item as number) : messageValue(field.message, item)]))
  }
}

export const restJson = <D extends DescMessage>(schema: D, message: MessageShape<D>): { [key: string]: Json } => {
  const record = message as unknown as Record<string, unknown>
  return Object.fromEntries(schema.fields.map(field => [field.jsonName, fieldValue(field, record[field.localName])]))
}
