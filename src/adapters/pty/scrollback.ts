// The last N bytes of a runner's output, for a viewer who joins late. A byte ring: appends copy
// into one buffer and never reallocate once it is full, so a flooding agent costs at most N
// bytes here. The buffer grows by doubling up to N, because most runners print far less than N
// and a thousand runners each holding a full 256 KiB up front would waste a quarter gigabyte.
//
// It keeps bytes, not characters: a snapshot may begin in the middle of a UTF-8 sequence or an
// escape sequence; a terminal emulator fed the snapshot skips the broken start.

export const DEFAULT_SCROLLBACK_BYTES = 256 * 1024
const INITIAL_BYTES = 4 * 1024

export interface Scrollback {
  append(chunk: Buffer): void
  /** A copy of the kept bytes, oldest first. */
  snapshot(): Buffer
  /** How many bytes are kept (never more than the capacity). */
  readonly length: number
  readonly capacity: number
}

export function createScrollback(capacity: number = DEFAULT_SCROLLBACK_BYTES): Scrollback {
  if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`scrollback capacity must be a positive integer, got ${capacity}`)
  let ring = Buffer.alloc(Math.min(INITIAL_BYTES, capacity))
  // `start` is the oldest byte; `length` bytes follow it, wrapping at ring.length.
  let start = 0
  let length = 0

  function grow(needed: number): void {
    let size = ring.length
    while (size < needed && size < capacity) size = Math.min(size * 2, capacity)
    if (size === ring.length) return
    const bigger = Buffer.alloc(size)
    copyOut(bigger)
    ring = bigger
    start = 0
  }

  function copyOut(target: Buffer): void {
    const firstPart = Math.min(length, ring.length - start)
    ring.copy(target, 0, start, start + firstPart)
    ring.copy(target, firstPart, 0, length - firstPart)
  }

  return {
    append(chunk) {
      if (chunk.length === 0) return
      if (chunk.length >= capacity) {
        if (ring.length < capacity) ring = Buffer.alloc(capacity)
        chunk.copy(ring, 0, chunk.length - capacity)
        start = 0
        length = capacity
        return
      }
      if (length + chunk.length > ring.length) grow(length + chunk.length)
      // Write at the end, wrapping; whatever is overwritten was the oldest output.
      const end = (start + length) % ring.length
      const firstPart = Math.min(chunk.length, ring.length - end)
      chunk.copy(ring, end, 0, firstPart)
      chunk.copy(ring, 0, firstPart)
      const overflow = length + chunk.length - ring.length
      if (overflow > 0) {
        start = (start + overflow) % ring.length
        length = ring.length
      } else {
        length += chunk.length
      }
    },
    snapshot() {
      const copy = Buffer.alloc(length)
      copyOut(copy)
      return copy
    },
    get length() { return length },
    get capacity() { return capacity },
  }
}
