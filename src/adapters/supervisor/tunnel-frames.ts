// The frames of a node's tunnel (docs/api/attach.md, "Nodes dial out"). Both ends relay one attach
// channel's messages, which may be larger than the API's WebSocket frame limit (the scrollback
// is one message of up to 16 MiB): each message travels as binary chunks with a one-byte header,
// and a chunk may also be a small JSON signal of the tunnel itself (the terminal opened, or the
// node's attach server refused with a status). Reassembly is bounded; what does not parse is an error.
import { MAX_SCROLLBACK_BYTES } from '../../config-spec.js'

const TEXT = 0x01
const MORE = 0x02
const SIGNAL = 0x04

/** Under the API's 64 KiB frame limit with the header. */
export const TUNNEL_CHUNK_BYTES = 60 * 1024
/** The largest message either end reassembles: a full scrollback and a frame. */
export const TUNNEL_MAX_MESSAGE_BYTES = MAX_SCROLLBACK_BYTES + 64 * 1024

export type TunnelSignal = { type: 'open' } | { type: 'refused', status: number }
export type TunnelItem = { kind: 'message', data: Buffer, isBinary: boolean } | { kind: 'signal', signal: TunnelSignal }

/** The chunks that carry one message. */
export const encodeMessage = (data: Buffer, isBinary: boolean): Buffer[] => {
  const chunks: Buffer[] = []
  for (let at = 0; at === 0 || at < data.length; at += TUNNEL_CHUNK_BYTES) {
    const part = data.subarray(at, at + TUNNEL_CHUNK_BYTES)
    const more = at + TUNNEL_CHUNK_BYTES < data.length
    chunks.push(Buffer.concat([Buffer.from([(isBinary ? 0 : TEXT) | (more ? MORE : 0)]), part]))
  }
  return chunks
}

export const encodeSignal = (signal: TunnelSignal): Buffer => Buffer.concat([Buffer.from([SIGNAL]), Buffer.from(JSON.stringify(signal))])

const isSignal = (value: unknown): value is TunnelSignal => {
  const v = value as { type?: unknown, status?: unknown } | null
  return v?.type === 'open' || (v?.type === 'refused' && Number.isInteger(v.status) && (v.status as number) >= 100 && (v.status as number) <= 599)
}

/** A reassembler for one socket: each chunk in, a message or a signal out when complete; throws on bad input. */
export const createTunnelDecoder = (maxBytes = TUNNEL_MAX_MESSAGE_BYTES) => {
  let parts: Buffer[] = []
  let size = 0
  return (chunk: Buffer): TunnelItem | null => {
    if (chunk.length === 0) throw new Error('an empty tunnel chunk')
    const flags = chunk[0]!
    const body = chunk.subarray(1)
    if (flags & SIGNAL) {
      if (parts.length > 0) throw new Error('a tunnel signal inside a message')
      let signal: unknown
      try { signal = JSON.parse(body.toString('utf8')) } catch { throw new Error('a tunnel signal that is not JSON') }
      if (!isSignal(signal)) throw new Error('an unknown tunnel signal')
      return { kind: 'signal', signal }
    }
    size += body.length
    if (size > maxBytes) throw new Error(`a tunnel message over ${maxBytes} bytes`)
    parts.push(body)
    if (flags & MORE) return null
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
    parts = []
    size = 0
    return { kind: 'message', data, isBinary: (flags & TEXT) === 0 }
  }
}
