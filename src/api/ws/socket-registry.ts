// Every open WebSocket (event feed, attach) with the principal that opened it, for two jobs:
// caps (per credential and in total), so one client cannot take every file descriptor, and
// revocation, which must end live sockets too: once a second the registry asks the database
// which of its tokens are no longer live, so a revoke on any daemon sharing the database
// closes them here with 4401.
import type { WebSocket } from 'ws'
import type { Principal } from '../../core/auth/principal.js'

export const CLOSE_CREDENTIAL_ENDED = 4401
export const CLOSE_TOO_MANY = 1013

export interface SocketRegistryOptions {
  maxTotal: number
  maxPerCredential: number
  /** Of these token ids, the ones still live. */
  stillLive(tokenIds: string[]): Promise<Set<string>>
  onSweepError(err: unknown): void
  sweepEveryMs?: number
}

const keyOf = (principal: Principal) => principal.tokenId ?? principal.subject

export const createSocketRegistry = ({ maxTotal, maxPerCredential, stillLive, onSweepError, sweepEveryMs = 1000 }: SocketRegistryOptions) => {
  const byCredential = new Map<string, Set<WebSocket>>()
  const tokenOf = new Map<WebSocket, string>()
  let total = 0
  let sweeping = false

  const sweep = async () => {
    if (sweeping || tokenOf.size === 0) return
    sweeping = true
    try {
      const live = await stillLive([...new Set(tokenOf.values())])
      for (const [socket, tokenId] of tokenOf) if (!live.has(tokenId)) socket.close(CLOSE_CREDENTIAL_ENDED, 'the credential was revoked or has expired')
    } catch (err) {
      onSweepError(err)
    } finally {
      sweeping = false
    }
  }
  const timer = setInterval(() => { void sweep() }, sweepEveryMs)
  timer.unref()

  return {
    /** Why a new socket for this principal would be refused, or null when it may open. */
    refusal (principal: Principal): string | null {
      if (total >= maxTotal) return `the daemon holds ${maxTotal} WebSockets, its limit (security.max_websockets)`
      if ((byCredential.get(keyOf(principal))?.size ?? 0) >= maxPerCredential) {
        return `this credential holds ${maxPerCredential} WebSockets, its limit (security.max_websockets_per_token)`
      }
      return null
    },

    /** Counts an opened socket; closes it at once (1013) when a race took it past a cap. */
    track (principal: Principal, socket: WebSocket) {
      const reason = this.refusal(principal)
      if (reason) return socket.close(CLOSE_TOO_MANY, reason.slice(0, 120))
      const key = keyOf(principal)
      const set = byCredential.get(key) ?? new Set()
      byCredential.set(key, set.add(socket))
      total++
      if (principal.tokenId) tokenOf.set(socket, principal.tokenId)
      socket.once('close', () => {
        total--
        set.delete(socket)
        if (set.size === 0) byCredential.delete(key)
        tokenOf.delete(socket)
      })
    },

    sweep,
    get size () { return total },
    close () { clearInterval(timer) },
  }
}

export type SocketRegistry = ReturnType<typeof createSocketRegistry>
