// Scratch databases on the benchmark Postgres: one per variant and round, so no two runs share
// tables, indexes or dead tuples. Names are generated here, never taken from input.
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'

export interface ScratchDatabase { name: string, url: string, drop(): Promise<void> }

const admin = (adminUrl: string) => postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 })

export const createScratchDatabase = async (adminUrl: string): Promise<ScratchDatabase> => {
  const name = `stv_bench_${randomBytes(6).toString('hex')}`
  const sql = admin(adminUrl)
  try {
    await sql.unsafe(`create database ${name}`)
  } finally {
    await sql.end({ timeout: 5 })
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  let dropped = false
  return {
    name,
    url: url.toString(),
    async drop () {
      if (dropped) return
      dropped = true
      const dropper = admin(adminUrl)
      try {
        await dropper.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await dropper.end({ timeout: 5 })
      }
    },
  }
}

/** Facts about the server, and a checkpoint so that no variant inherits the other's dirty pages. */
export const serverInfo = async (adminUrl: string): Promise<Record<string, string>> => {
  const sql = admin(adminUrl)
  try {
    const rows = await sql<Array<{ name: string, setting: string }>>`
      select name, setting from pg_settings
      where name in ('server_version', 'max_connections', 'shared_buffers', 'synchronous_commit', 'fsync', 'wal_level')`
    return Object.fromEntries(rows.map(r => [r.name, r.setting]))
  } finally {
    await sql.end({ timeout: 5 })
  }
}

export const checkpoint = async (adminUrl: string): Promise<void> => {
  const sql = admin(adminUrl)
  try {
    await sql`checkpoint`
  } catch {
    // Needs superuser (or pg_checkpoint on 15+); the benchmark is still valid without it.
  } finally {
    await sql.end({ timeout: 5 })
  }
}
