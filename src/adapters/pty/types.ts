// A supervised agent process: in a pseudo-terminal (interactive) or on pipes (headless), in a
// process group of its own so that a stop reaches every descendant.

export interface SpawnOptions {
  argv: string[]
  cwd: string
  env: Record<string, string>
  /** true: a pseudo-terminal of cols×rows; false: pipes (stdin /dev/null, stdout and stderr read). */
  terminal: boolean
  cols?: number
  rows?: number
  /** Bytes of output kept for late viewers (default 256 KiB). */
  scrollbackBytes?: number
  /** Run as this user and group (the caller is root and has no supplementary groups: run-as.ts). */
  user?: { uid: number, gid: number }
}

export interface ExitStatus {
  /** The exit code, or null when a signal ended it. */
  code: number | null
  signal: string | null
}

export interface AgentProcess {
  pid: number
  terminal: boolean
  /** Every byte of output (terminal: the screen stream; pipes: stdout and stderr interleaved). */
  onOutput(listener: (chunk: Buffer) => void): () => void
  /** Complete stdout lines (pipes mode only; never fires for a terminal). */
  onStdoutLine(listener: (line: string) => void): () => void
  /** Resolves once, when the process has exited and its output has been drained. */
  exited: Promise<ExitStatus>
  /** The last scrollbackBytes of output, for a viewer who joins late. */
  scrollback(): Buffer
  write(data: string | Buffer): void
  resize(cols: number, rows: number): void
  size(): { cols: number, rows: number }
  /**
   * SIGTERM to the process group, then SIGKILL to the group (and any descendant that left it)
   * after timeoutMs; timeoutMs 0 kills at once. Resolves with the exit status.
   */
  stop(timeoutMs: number): Promise<ExitStatus>
}

export interface ProcessTreeSample {
  /** CPU of the whole tree since the previous sample, in percent of one core. */
  cpuPercent: number
  /** Resident memory of the whole tree, in MiB. */
  memoryMb: number
  /** How many processes the tree holds. */
  processes: number
}
