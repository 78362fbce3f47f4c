// The proto contracts as descriptors with their comments, for the RPC and event references.
// The descriptors embedded in src/gen carry no comments, so this asks buf (already what
// `npm run generate` runs) to compile proto/ with its source info, and reads the comments by
// descriptor path the way protoc records them.
import { execFileSync } from 'node:child_process'
import { fromBinary } from '@bufbuild/protobuf'
import {
  FieldDescriptorProto_Label as Label, FieldDescriptorProto_Type as FieldType, FileDescriptorSetSchema,
  type DescriptorProto, type FieldDescriptorProto, type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt'

export const REPO_ROOT = new URL('../../', import.meta.url)

export interface ProtoFile {
  proto: FileDescriptorProto
  /** The comment above `syntax`: what the file is for. */
  header: string
  /** Leading comment of the element at a descriptor path (FileDescriptorProto field numbers). */
  comment: (path: number[]) => string
  /** Comments standing apart from the element that follows them (a blank line between). */
  detached: (path: number[]) => string[]
}

const clean = (text: string | undefined) => (text ?? '').split('\n').map(line => line.replace(/^ /, '')).join('\n').trim()

/** Every file under proto/ (dependencies such as google/protobuf left out), in name order. */
export const loadProtoFiles = (): ProtoFile[] => {
  const bytes = execFileSync('npx', ['buf', 'build', '--output', '-#format=binpb'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 })
  const set = fromBinary(FileDescriptorSetSchema, bytes)
  return set.file
    .filter(file => file.name.startsWith('stratavore/'))
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(proto => {
      const locations = new Map((proto.sourceCodeInfo?.location ?? []).map(l => [l.path.join('.'), l]))
      const comment = (path: number[]) => clean(locations.get(path.join('.'))?.leadingComments)
      const detached = (path: number[]) => (locations.get(path.join('.'))?.leadingDetachedComments ?? []).map(clean)
      // FileDescriptorProto.syntax is field 12.
      const header = [...detached([12]), comment([12])].filter(Boolean).join('\n\n')
      return { proto, header, comment, detached }
    })
}

// Descriptor path steps (field numbers in descriptor.proto).
export const PATH = { message: 4, enum: 5, service: 6, field: 2, nested: 3, method: 2, value: 2 } as const

const SCALARS: Partial<Record<FieldType, string>> = {
  [FieldType.DOUBLE]: 'double', [FieldType.FLOAT]: 'float', [FieldType.INT64]: 'int64', [FieldType.UINT64]: 'uint64',
  [FieldType.INT32]: 'int32', [FieldType.FIXED64]: 'fixed64', [FieldType.FIXED32]: 'fixed32', [FieldType.BOOL]: 'bool',
  [FieldType.STRING]: 'string', [FieldType.BYTES]: 'bytes', [FieldType.UINT32]: 'uint32', [FieldType.SFIXED32]: 'sfixed32',
  [FieldType.SFIXED64]: 'sfixed64', [FieldType.SINT32]: 'sint32', [FieldType.SINT64]: 'sint64',
}

/** `.stratavore.v1.Runner` → `Runner`, `.google.protobuf.Timestamp` → `google.protobuf.Timestamp`. */
export const shortTypeName = (typeName: string, pkg: string) =>
  typeName.replace(/^\./, '').replace(new RegExp(`^${pkg.replace(/\./g, '\\.')}\\.`), '')

/** The field's type as written in the .proto: `repeated string`, `optional int32`, `map<string, string>`. */
export const fieldType = (field: FieldDescriptorProto, message: DescriptorProto, pkg: string): string => {
  const base = SCALARS[field.type] ?? shortTypeName(field.typeName, pkg)
  const entry = message.nestedType.find(n => n.options?.mapEntry && `${message.name}.${n.name}` === base)
  if (entry && field.label === Label.REPEATED) {
    const [key, value] = entry.field
    return `map<${fieldType(key!, entry, pkg)}, ${fieldType(value!, entry, pkg)}>`
  }
  if (field.label === Label.REPEATED) return `repeated ${base}`
  if (field.proto3Optional) return `optional ${base}`
  return base
}
