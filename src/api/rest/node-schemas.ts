// REST shapes of nodes and join tokens (the owner of these wire types on the REST surface).
import { Type, type Static } from '@sinclair/typebox'
import { AGENT_NAME_PATTERN, LABEL_KEY_PATTERN, LABEL_VALUE_PATTERN, MAX_AGENTS, MAX_LABELS, MAX_NODE_CAPACITY, NODE_NAME_PATTERN } from '../../core/nodes/node.js'

export const LabelsSchema = (description: string) => Type.Record(Type.String({ pattern: LABEL_KEY_PATTERN }), Type.String({ pattern: LABEL_VALUE_PATTERN }), { maxProperties: MAX_LABELS, description })
export const AgentsSchema = Type.Record(Type.String({ pattern: AGENT_NAME_PATTERN }), Type.String({ maxLength: 128 }),
  { maxProperties: MAX_AGENTS, description: 'agent CLIs on the host, name -> version ("" when unknown)' })

export const JoinTokenDto = Type.Object({
  id: Type.String({ format: 'uuid' }),
  labels: LabelsSchema('put on every node that joins with it (over the labels the node reports)'),
  maxUses: Type.Integer(),
  useCount: Type.Integer(),
  createdBy: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
}, { $id: 'JoinToken' })
export type JoinTokenDto = Static<typeof JoinTokenDto>

export const NodeDto = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  hostname: Type.String(),
  version: Type.String(),
  status: Type.Union([Type.Literal('ready'), Type.Literal('lost'), Type.Literal('down')], { description: 'down: joined, its supervisor not registered yet' }),
  capacity: Type.Integer(),
  labels: LabelsSchema('the node\'s labels, matched by a launch\'s nodeSelector'),
  agents: AgentsSchema,
  activeRunners: Type.Integer({ description: 'runners assigned to it and not finished' }),
  registeredAt: Type.String({ format: 'date-time' }),
  lastHeartbeat: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
}, { $id: 'Node' })
export type NodeDto = Static<typeof NodeDto>

export const JoinBody = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 512, description: 'the join token (stratavore node join-token create)' }),
  name: Type.String({ pattern: NODE_NAME_PATTERN }),
  hostname: Type.String({ maxLength: 253 }),
  version: Type.String({ maxLength: 64 }),
  capacity: Type.Integer({ minimum: 1, maximum: MAX_NODE_CAPACITY }),
  labels: Type.Optional(LabelsSchema('the host\'s own labels (supervisor.labels)')),
  agents: Type.Optional(AgentsSchema),
}, { additionalProperties: false })
