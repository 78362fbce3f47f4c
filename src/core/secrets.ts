// The one rule for what counts as a secret in a runner's launch: a launch may carry
// credentials for the agent (an API key in its environment, a token flag), which are stored so
// the agent gets them but are write-only everywhere else. Every read surface (REST, RPC, the
// Lex WebUI, the CLI through RPC, error messages) shows them through these functions, so
// widening the rule here widens it everywhere. Masking too much is harmless; too little leaks.

export const REDACTED = '********'

// Names of variables and flags that hold credentials, matched after a flag's dashes become
// underscores (`--api-key` reads as API_KEY).
const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE|CREDENTIAL|AUTH|COOKIE|SESSION_KEY|ACCESS_KEY)/i

// Values that are credentials whatever they are called: the published shapes of common API
// keys, JSON Web Tokens, PEM private keys, and URLs with a password in them.
const SECRET_VALUES: RegExp[] = [
  /\bsk-[A-Za-z0-9_-]{16,}/, // OpenAI, Anthropic (sk-ant-…)
  /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/, // GitHub
  /\bglpat-[A-Za-z0-9_-]{16,}/, // GitLab
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/, // Slack
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/, // AWS access key ids
  /\bAIza[0-9A-Za-z_-]{35}/, // Google API keys
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/, // JWTs
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i, // scheme://user:password@host
]

export const isSecretName = (name: string): boolean => SECRET_NAME.test(name)

export const looksLikeSecretValue = (value: string): boolean => SECRET_VALUES.some(pattern => pattern.test(value))

/** The environment as a reader may see it: values of secret names, and secret-looking values, masked. */
export const redactEnvironment = (environment: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(environment).map(([name, value]) =>
    [name, isSecretName(name) || looksLikeSecretValue(value) ? REDACTED : value]))

const FLAG_NAME = /^--?([A-Za-z0-9][A-Za-z0-9_.-]*)$/
const flagNameIsSecret = (flag: string): boolean => {
  const name = FLAG_NAME.exec(flag)?.[1]
  return name !== undefined && isSecretName(name.replaceAll('-', '_'))
}

/**
 * The flags as a reader may see them. `--api-key=v` shows as `--api-key=********`; after a
 * secret-named flag with no `=` (`--token v`) the next argument is masked unless it is itself
 * a long flag; any argument, or `=` value, that looks like a key is masked wherever it stands.
 */
export const redactFlags = (flags: readonly string[]): string[] => {
  const out: string[] = []
  let maskNext = false
  for (const flag of flags) {
    if (maskNext && !flag.startsWith('--')) {
      out.push(REDACTED)
      maskNext = false
      continue
    }
    maskNext = false
    const eq = flag.indexOf('=')
    if (flag.startsWith('-') && eq > 0) {
      const name = flag.slice(0, eq)
      const value = flag.slice(eq + 1)
      out.push(flagNameIsSecret(name) || looksLikeSecretValue(value) ? `${name}=${REDACTED}` : flag)
      continue
    }
    if (flagNameIsSecret(flag)) {
      maskNext = true
      out.push(flag)
      continue
    }
    out.push(looksLikeSecretValue(flag) ? REDACTED : flag)
  }
  return out
}
