// Session transcripts archived into the database: gzip-compressed chunks keyed by their byte
// offset, appended only where the archive ends (a conditional update on transcript_bytes), so
// a late or repeated write from a supervisor cannot leave a gap or a duplicate. Past the limit
// the chunks are dropped: a prefix of a conversation cannot be resumed, and the bytes would only
// take room.
import { promisify } from 'node:util'
import { gunzip, gzip } from 'node:zlib'
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm'
import type { TranscriptRepository } from '../../../core/ports.js'
import type { TranscriptArchive, TranscriptPosition } from '../../../core/sessions/session.js'
import { rowsOf, type Db } from '../client.js'
import { sessions, sessionTranscriptChunks as chunks } from '../schema.js'

const compress = promisify(gzip)
const decompress = promisify(gunzip)

// Chunks read per round trip when the archive is read back.
const READ_PAGE = 8

type PositionRow = { name: string | null, bytes: number | string, archive: string }
const toPosition = (row: PositionRow): TranscriptPosition => ({ name: row.name, bytes: Number(row.bytes), archive: row.archive as TranscriptArchive })

export const createTranscriptRepository = (db: Db): TranscriptRepository => ({
  async position (sessionId) {
    const [row] = await db.select({ name: sessions.transcriptName, bytes: sessions.transcriptBytes, archive: sessions.transcriptArchive })
      .from(sessions).where(eq(sessions.id, sessionId)).limit(1)
    return row ? toPosition(row) : null
  },

  async append (sessionId, slice, maxBytes) {
    const length = slice.data.byteLength
    const [row] = rowsOf<PositionRow>(await db.execute(sql`
      update ${sessions} set
        transcript_bytes = transcript_bytes + ${length},
        transcript_name = coalesce(${slice.name}::text, transcript_name),
        message_count = message_count + ${slice.messages},
        summary = coalesce(${slice.summary}::text, summary, ${slice.firstPrompt}::text),
        transcript_archive = case when transcript_archive = 'over_limit' or transcript_bytes + ${length} > ${maxBytes} then 'over_limit' else 'archived' end
      where id = ${sessionId} and transcript_bytes = ${slice.offset}
      returning transcript_name as name, transcript_bytes as bytes, transcript_archive as archive`))
    if (!row) return null
    const position = toPosition(row)
    if (position.archive === 'over_limit') await db.delete(chunks).where(eq(chunks.sessionId, sessionId))
    else if (length > 0) await db.insert(chunks).values({ sessionId, offset: slice.offset, rawBytes: length, data: await compress(slice.data) })
    return position
  },

  async reset (sessionId) {
    await db.delete(chunks).where(eq(chunks.sessionId, sessionId))
    await db.update(sessions).set({ transcriptBytes: 0, transcriptArchive: 'none', messageCount: 0 }).where(eq(sessions.id, sessionId))
  },

  // Bounded by the position the caller read: chunks appended meanwhile are not part of the
  // transcript it announced (a length, a restore's expected size).
  async * read (sessionId, endBytes) {
    let from = 0
    while (from < endBytes) {
      const page = await db.select({ offset: chunks.offset, rawBytes: chunks.rawBytes, data: chunks.data }).from(chunks)
        .where(and(eq(chunks.sessionId, sessionId), gte(chunks.offset, from), lt(chunks.offset, endBytes)))
        .orderBy(asc(chunks.offset)).limit(READ_PAGE)
      for (const chunk of page) {
        yield new Uint8Array(await decompress(chunk.data))
        from = Number(chunk.offset) + chunk.rawBytes
      }
      if (page.length < READ_PAGE) return
    }
  },
})
