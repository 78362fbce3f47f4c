#!/usr/bin/env node
// The stratavore CLI through tsx, like bin/stratavored.mjs. This file is the one place the CLI
// touches the process: it hands argv, the environment and the streams to main() and exits with
// its code once stdout is flushed (a pipe reader must get every byte).
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli/main.ts')
const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() })
process.stdout.write('', () => process.exit(code))
