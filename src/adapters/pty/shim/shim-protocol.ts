// The wire between a supervisor and a runner's shim (shim-main.ts), over the shim's Unix socket.
// Frames are length-prefixed: [u32 BE length of what follows][u8 type][payload]. Control frames
// carry JSON; output carries the stream (0: everything the terminal or pipes printed, 1: stdout
// lines of a headless agent, newline-terminated), its byte offset since the agent started, and
// the bytes. Offsets let a supervisor that reconnects ask for what it has not seen yet.
//
//   supervisor                              shim
//     HELLO {version, runnerId, generation, secret, from}  ──▶   (wrong secret/runner/generation: closed)
//                                           ◀──  WELCOME {pid, terminal, cols, rows, startedAt, meta, exit}
//                                           ◀──  OUTPUT … (replay from `from`, then live)
//     INPUT / RESIZE / STOP                 ──▶
//                                           ◀──  EXIT {code, signal}   (also written to the exit file)
//     COLLECT (the exit is recorded)        ──▶   shim removes its socket and ends

export const SHIM_PROTOCOL_VERSION = 1
/** Larger frames are a broken peer: the connection is dropped. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024

export const FrameType = {
  hello: 1,
  welcome: 2,
  output: 3,
  exit: 4,
  input: 5,
  resize: 6,
  stop: 7,
  collect: 8,
} as const

export const OUTPUT_STREAM = 0
export const STDOUT_STREAM = 1

export interface Hello {
  version: number
  runnerId: string
  generation: number
  secret: string
  /** Replay each stream from this byte offset (what the shim still keeps of it, at least). */
  from: [number, number]
}

export interface ShimExit { code: number | null, signal: string | null }

export interface Welcome {
  pid: number
  terminal: boolean
  cols: number
  rows: number
  /** Epoch ms the agent started. */
  startedAt: number
  /** What the supervisor handed the shim at start, given back as is (shim-launcher.ts). */
  meta: unknown
  /** Set when the agent has already exited. */
  exit: ShimExit | null
}

export const encodeFrame = (type: number, payload: Buffer = Buffer.alloc(0)): Buffer => {
  const header = Buffer.alloc(5)
  header.writeUInt32BE(payload.length + 1, 0)
  header.writeUInt8(type, 4)
  return Buffer.concat([header, payload])
}

export const jsonFrame = (type: number, value: unknown) => encodeFrame(type, Buffer.from(JSON.stringify(value)))

export const outputFrame = (stream: number, offset: number, bytes: Buffer) => {
  const head = Buffer.alloc(9)
  head.writeUInt8(stream, 0)
  head.writeDoubleBE(offset, 1)
  return encodeFrame(FrameType.output, Buffer.concat([head, bytes]))
}

export const parseOutput = (payload: Buffer) => ({ stream: payload.readUInt8(0), offset: payload.readDoubleBE(1), bytes: payload.subarray(9) })

/** Feeds bytes in, calls onFrame per complete frame; throws on a frame over MAX_FRAME_BYTES. */
export const createFrameReader = (onFrame: (type: number, payload: Buffer) => void) => {
  let pending: Buffer = Buffer.alloc(0)
  return (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0)
      if (length < 1 || length > MAX_FRAME_BYTES) throw new Error(`shim frame of ${length} bytes`)
      if (pending.length < 4 + length) return
      const type = pending.readUInt8(4)
      const payload = pending.subarray(5, 4 + length)
      pending = pending.subarray(4 + length)
      onFrame(type, payload)
    }
  }
}

/** A byte ring that knows the offset of its oldest byte, for replay from an offset. */
export const offsetOf = (total: number, kept: Buffer, from: number): Buffer => kept.subarray(Math.max(0, from - (total - kept.length)))
