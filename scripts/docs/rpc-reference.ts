// docs/api/rpc.md from proto/: every service with its methods (and the least role each needs,
// from src/api/access-policy.ts), then every message and enum they use, with the comments the
// .proto files carry. The event catalogue (events.proto) has its own page, events.md.
import { RPC_ACCESS } from '../../src/api/access-policy.js'
import { PATH, shortTypeName, type ProtoFile } from './proto-files.js'
import { anchorOf, typeCell, typeNames, typesMarkdown, type TypeLinks } from './proto-markdown.js'
import { cell, escapeMarkdown, generatedHeader } from './markdown.js'

/** Files on the events page rather than here. */
const EVENT_FILES = new Set(['stratavore/v1/events.proto'])

const methodRow = (file: ProtoFile, serviceIndex: number, methodIndex: number, links: TypeLinks) => {
  const service = file.proto.service[serviceIndex]!
  const method = service.method[methodIndex]!
  const pkg = file.proto.package
  const type = (name: string, stream: boolean) => typeCell(`${stream ? 'stream ' : ''}${shortTypeName(name, pkg)}`, links)
  const role = RPC_ACCESS[`${pkg}.${service.name}/${method.name}`] ?? '(none: refused)'
  const comment = file.comment([PATH.service, serviceIndex, PATH.method, methodIndex])
  return `| \`${method.name}\` | ${type(method.inputType, method.clientStreaming ?? false)} | ${type(method.outputType, method.serverStreaming ?? false)} | ${role} | ${cell(comment)} |`
}

export const renderRpcReference = (files: ProtoFile[]): string => {
  const shown = files.filter(f => !EVENT_FILES.has(f.proto.name))
  const defined = new Set(shown.flatMap(typeNames))
  const eventTypes = files.filter(f => EVENT_FILES.has(f.proto.name)).flatMap(typeNames)
  const links: TypeLinks = name => defined.has(name) ? anchorOf(name) : eventTypes.includes(name) ? `events.md${anchorOf(name)}` : undefined
  const services = shown.flatMap(file => file.proto.service.map((service, s) => {
    const path = `${file.proto.package}.${service.name}`
    const rows = service.method.map((_, m) => methodRow(file, s, m, links))
    return [
      `### ${service.name}`,
      `\`${path}\`, in [proto/${file.proto.name}](../../proto/${file.proto.name}).${file.header ? ` ${escapeMarkdown(file.header.replace(/\s*\n\s*/g, ' '))}` : ''}`,
      ['| method | request | response | least role | notes |', '| --- | --- | --- | --- | --- |', ...rows].join('\n'),
    ].join('\n\n')
  }))
  const types = shown.flatMap(file => typesMarkdown(file, { links, level: '###' }))
  return [
    generatedHeader('proto/stratavore/v1/*.proto and src/api/access-policy.ts'),
    '# RPC reference',
    'Every RPC service of package `stratavore.v1`, as defined in [proto/stratavore/v1](../../proto/stratavore/v1). ' +
      'One router serves them twice: on the HTTP port beside REST (Connect and gRPC-Web over HTTP/1.1) and on ' +
      '`daemon.grpc_port` over HTTP/2 (gRPC, Connect and gRPC-Web). Every call carries `authorization: Bearer <token>`; ' +
      'the least role is that of [src/api/access-policy.ts](../../src/api/access-policy.ts) (`public`: no credential). ' +
      'Errors, transports and examples: the README\'s [RPC](../../README.md#rpc) section. ' +
      'The messages of events.proto (the event envelope and each event\'s data) are on the [events](events.md) page.',
    '## Services',
    ...services,
    '## Messages and enums',
    'JSON is the proto JSON mapping Connect uses: the `JSON` column is the field\'s name there; enums travel as their value names, 64-bit integers as strings.',
    ...types,
  ].join('\n\n') + '\n'
}
