// Where the bus reaches under amqplib's public API (0.10.x), kept here so an upgrade has one
// file to check: knowing when a channel's frames have really been sent.
//
// channel.publish() sends nothing: it pushes the encoded frames onto the channel's own stream
// (lib/connection.js freshChannel), which the connection's muxer copies to the socket on a later
// setImmediate (lib/mux.js), and the socket may hold them again until the kernel takes them.
import type { Readable, Writable } from 'node:stream'
import type { Channel } from 'amqplib'

interface ConnectionInternals { stream: Writable, channels: Array<{ buffer: Readable } | null | undefined> }
interface ChannelInternals { ch: number, connection: ConnectionInternals }

const internalsOf = (channel: Channel) => channel as unknown as ChannelInternals

const drainedOrClosed = (socket: Writable) => new Promise<void>(resolve => {
  const done = () => { socket.off('drain', done); socket.off('close', done); resolve() }
  socket.on('drain', done)
  socket.on('close', done)
})

/**
 * Resolves once everything published on `channel` so far has left the process: the channel's
 * stream and the socket's buffer are both empty, so the bytes are with the kernel (and on a
 * live connection, on their way to the broker). Also resolves if the socket closes meanwhile:
 * then nothing more will be written, and the caller learns of the loss from the channel.
 */
export const framesWritten = async (channel: Channel): Promise<void> => {
  const { ch, connection } = internalsOf(channel)
  const socket = connection.stream
  for (;;) {
    // 'drain' comes only after a write that found the socket full; otherwise the next turn of
    // the loop lets the muxer run (its setImmediate is queued once the channel's stream turns
    // readable, which may be after ours) and a write in progress complete.
    if (socket.writableNeedDrain) await drainedOrClosed(socket)
    else await new Promise(resolve => setImmediate(resolve))
    if (socket.destroyed || socket.writableEnded) return
    const queuedFrames = connection.channels[ch]?.buffer.readableLength ?? 0
    if (queuedFrames === 0 && socket.writableLength === 0) return
  }
}
