// The config tests' helpers: a HOME with (optionally) a default config file, and the message of
// what a config load throws.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './temp-dir.js'

/** A fresh HOME; with `yaml`, it is ~/.config/stratavore/stratavore.yaml there. */
export const configHome = (t: Parameters<typeof tempDir>[0], yaml?: string) => {
  const home = tempDir(t, 'stv-config-')
  if (yaml !== undefined) {
    mkdirSync(join(home, '.config/stratavore'), { recursive: true })
    writeFileSync(join(home, '.config/stratavore/stratavore.yaml'), yaml)
  }
  return home
}

export const errorOf = (fn: () => unknown): string => {
  try { fn() } catch (err) { return (err as Error).message }
  return '(no error)'
}
