// Shared by the RPC tests: the outcome of a call that must fail, in the terms a client sees.
import { Code, ConnectError } from '@connectrpc/connect'
import { ErrorDetailSchema } from '../../../src/gen/stratavore/v1/error_pb.js'

export interface Failure { code: string, detail: string | undefined, message: string }

export const failureOf = async (call: Promise<unknown>): Promise<Failure> => {
  try {
    await call
  } catch (e) {
    const err = ConnectError.from(e)
    return { code: Code[err.code], detail: err.findDetails(ErrorDetailSchema)[0]?.code, message: err.rawMessage }
  }
  throw new Error('expected the call to fail, and it succeeded')
}

export const waitFor = async (what: string, check: () => boolean, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
