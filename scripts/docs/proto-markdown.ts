// Messages and enums of a proto file as Markdown: one heading per type (so other tables can link
// to it), its comment, and a table of its fields or values with their comments.
import type { DescriptorProto, EnumDescriptorProto } from '@bufbuild/protobuf/wkt'
import { fieldType, PATH, type ProtoFile } from './proto-files.js'
import { cell, escapeMarkdown } from './markdown.js'

/** GitHub's heading anchor for a type name (its headings are the bare names). */
export const anchorOf = (name: string) => `#${name.toLowerCase().replace(/[^a-z0-9 _-]/g, '')}`

/** Links to the types a page defines: `#runner` for its own, `events.md#event` for another's. */
export type TypeLinks = (name: string) => string | undefined

/** Links to the given types on this page. */
export const localLinks = (names: Iterable<string>): TypeLinks => {
  const defined = new Set(names)
  return name => defined.has(name) ? anchorOf(name) : undefined
}

/** The type as a table cell: code, and a link when one is known (`repeated [Runner](#runner)`). */
export const typeCell = (type: string, links: TypeLinks) => {
  const [, modifier = '', base = type] = /^(repeated |optional |stream )?(.+)$/.exec(type) ?? []
  const link = links(base)
  return link ? `${modifier}[\`${base}\`](${link})` : `\`${type}\``
}

export interface TypeOptions {
  /** Where the types fields name are described. */
  links: TypeLinks
  /** Heading level, e.g. '###'. */
  level: string
  /** Extra text under a message's heading (what it is used for). */
  note?: (name: string) => string | undefined
}

export const messageMarkdown = (file: ProtoFile, message: DescriptorProto, path: number[], options: TypeOptions, prefix = ''): string => {
  const name = `${prefix}${message.name}`
  const pkg = file.proto.package
  const parts = [`${options.level} ${name}`]
  const comment = file.comment(path)
  if (comment) parts.push(escapeMarkdown(comment))
  const note = options.note?.(name)
  if (note) parts.push(note)
  if (message.field.length === 0) {
    parts.push('No fields.')
  } else {
    const rows = message.field.map((field, i) => {
      const fieldComment = file.comment([...path, PATH.field, i])
      return `| \`${field.name}\` | \`${field.jsonName}\` | ${typeCell(fieldType(field, message, pkg), options.links)} | ${field.number} | ${cell(fieldComment)} |`
    })
    parts.push(['| field | JSON | type | # | notes |', '| --- | --- | --- | --- | --- |', ...rows].join('\n'))
  }
  const nested = message.nestedType.flatMap((inner, i) => inner.options?.mapEntry
    ? []
    : [messageMarkdown(file, inner, [...path, PATH.nested, i], options, `${name}.`)])
  const enums = message.enumType.map((inner, i) => enumMarkdown(file, inner, [...path, 4, i], options, `${name}.`))
  return [parts.join('\n\n'), ...nested, ...enums].join('\n\n')
}

export const enumMarkdown = (file: ProtoFile, enumType: EnumDescriptorProto, path: number[], options: TypeOptions, prefix = ''): string => {
  const parts = [`${options.level} ${prefix}${enumType.name}`]
  const comment = file.comment(path)
  if (comment) parts.push(escapeMarkdown(comment))
  const rows = enumType.value.map((value, i) => `| \`${value.name}\` | ${value.number} | ${cell(file.comment([...path, PATH.value, i]))} |`)
  parts.push(['| value | number | notes |', '| --- | --- | --- |', ...rows].join('\n'))
  return parts.join('\n\n')
}

/** Every type a file declares, nested ones as `Outer.Inner`, map entries left out. */
export const typeNames = (file: ProtoFile): string[] => {
  const walk = (message: DescriptorProto, prefix: string): string[] => [
    `${prefix}${message.name}`,
    ...message.nestedType.filter(n => !n.options?.mapEntry).flatMap(n => walk(n, `${prefix}${message.name}.`)),
    ...message.enumType.map(e => `${prefix}${message.name}.${e.name}`),
  ]
  return [...file.proto.messageType.flatMap(m => walk(m, '')), ...file.proto.enumType.map(e => e.name)]
}

/** The file's messages, then its enums, each under its own heading. */
export const typesMarkdown = (file: ProtoFile, options: TypeOptions, only?: (name: string) => boolean): string[] => [
  ...file.proto.messageType.flatMap((m, i) => !only || only(m.name) ? [messageMarkdown(file, m, [PATH.message, i], options)] : []),
  ...file.proto.enumType.flatMap((e, i) => !only || only(e.name) ? [enumMarkdown(file, e, [PATH.enum, i], options)] : []),
]
