// A Connect unary call (JSON) through app.inject, so it carries whatever credential build(t)
// gives in-process requests; the error's stable code is decoded from its ErrorDetail.
import { fromBinary } from '@bufbuild/protobuf'
import type { FastifyInstance } from 'fastify'
import { ErrorDetailSchema } from '../../src/gen/stratavore/v1/error_pb.js'

export interface RpcResult { status: number, json: Record<string, unknown> & { code?: string, message?: string }, detail: string | undefined }

export const rpcCall = async (app: FastifyInstance, path: string, body: object): Promise<RpcResult> => {
  const res = await app.inject({ method: 'POST', url: `/stratavore.v1.${path}`, headers: { 'content-type': 'application/json' }, payload: body })
  const json = res.json() as RpcResult['json']
  const first = (json.details as Array<{ type: string, value: string }> | undefined)?.find(d => d.type === 'stratavore.v1.ErrorDetail')
  const detail = first ? fromBinary(ErrorDetailSchema, Buffer.from(first.value, 'base64')).code : undefined
  return { status: res.statusCode, json, detail }
}
