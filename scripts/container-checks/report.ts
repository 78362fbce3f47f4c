// One line per check, so a CI log shows what was looked at, not only what failed.
export interface Report {
  section(title: string): void
  /** Records one check; returns `ok` so a caller can stop early on a failed prerequisite. */
  check(what: string, ok: boolean, detail?: string): boolean
  skip(what: string, why: string): void
  note(text: string): void
  readonly failures: string[]
  readonly count: number
}

export const createReport = (): Report => {
  const failures: string[] = []
  let count = 0
  return {
    section: title => console.log(`\n== ${title}`),
    check (what, ok, detail) {
      count++
      if (ok) console.log(`ok    ${what}`)
      else {
        failures.push(detail ? `${what}: ${detail}` : what)
        console.log(`FAIL  ${what}${detail ? `\n      ${detail.replaceAll('\n', '\n      ')}` : ''}`)
      }
      return ok
    },
    skip: (what, why) => console.log(`skip  ${what}: ${why}`),
    note: text => console.log(`      ${text}`),
    failures,
    get count () { return count },
  }
}
