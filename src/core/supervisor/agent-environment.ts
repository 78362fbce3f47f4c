// What an agent inherits from the daemon's own environment. An agent (in god mode, anything it
// likes) reads its environment; if that held the database URL, the broker URL, the admin token
// or an audit key, an agent could write the desired state, forge audit rows or call the API as
// the admin: steer its own supervisor. So the daemon's settings and credentials are dropped by
// name, and any other variable whose value holds one of the daemon's secrets is dropped too
// (an operator's `export MY_DB=$DATABASE_URL` is no safer than DATABASE_URL).

// STRATAVORE_* (settings, STRATAVORE_TOKEN), the connection URLs, and libpq's PG* variables.
const PRIVATE_VARIABLE = /^(STRATAVORE_|DATABASE_URL$|AMQP_URL$|PG[A-Z]*$)/

/** Shorter secrets (a default password such as `guest`) would drop unrelated variables. */
export const MIN_SCRUBBED_SECRET_LENGTH = 8

/** `env` without the daemon's private variables and without any value containing a secret. */
export const inheritedEnvironment = (env: Record<string, string | undefined>, secrets: readonly string[]): Record<string, string> => {
  const needles = secrets.filter(s => s.length >= MIN_SCRUBBED_SECRET_LENGTH)
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => {
    const [name, value] = entry
    return value !== undefined && !PRIVATE_VARIABLE.test(name) && !needles.some(secret => value.includes(secret))
  }))
}
