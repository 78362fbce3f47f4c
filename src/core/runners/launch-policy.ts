// What a launch request may add to an agent's process. A credential that may launch must not
// thereby run arbitrary code as the supervisor's user: flags reach the agent's argv (a generic
// agent `sh` with flags `-c …` is a shell) and variables reach its loader and interpreters. So
// each agent's config says what a request may set, and everything else is refused:
//
//   environment: agents.<name>.launch_env, names or `*` globs; DEFAULT_LAUNCH_ENV when unset.
//                Loader, interpreter and redirect variables (below) pass only when named
//                exactly, never through a glob; STRATAVORE_* never (the supervisor's own tags).
//   flags:       agents.<name>.allow_flags, `*` globs each flag must match; none when unset.
import { errors } from '../errors.js'
import { redactFlags } from '../secrets.js'
import { checkText } from '../validation.js'
import { ENV_NAME_PATTERN, MAX_ENV_VALUE_LENGTH, MAX_ENV_VARS } from './launch-input.js'

export interface LaunchPolicy {
  /** Names or `*` globs of the variables a request may set. */
  launchEnv: readonly string[]
  /** `*` globs that every flag of a request must match; empty: no flags at all. */
  allowFlags: readonly string[]
}

/** What a request may set when the agent's config names nothing: terminal and locale only. */
export const DEFAULT_LAUNCH_ENV: readonly string[] = ['TERM', 'COLORTERM', 'LANG', 'LANGUAGE', 'LC_*', 'TZ', 'NO_COLOR', 'FORCE_COLOR']

const ENV_NAME = new RegExp(ENV_NAME_PATTERN)

// Variables that make a loader, shell or interpreter run code of the caller's choosing inside
// the agent's process, or that pick which binaries and libraries it finds.
const LOADER_EXACT = new Set([
  'PATH', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_REPL_EXTERNAL_MODULE', 'BASH_ENV', 'ENV', 'PS4', 'PROMPT_COMMAND', 'SHELLOPTS',
  'BASHOPTS', 'IFS', 'CDPATH', 'GLOBIGNORE', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONINSPECT', 'PERL5OPT', 'PERL5LIB',
  'PERLLIB', 'PERL5DB', 'RUBYOPT', 'RUBYLIB', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS', 'GCONV_PATH', 'GIT_SSH_COMMAND',
  'GIT_SSH', 'GIT_EXEC_PATH', 'GIT_ASKPASS', 'SSH_ASKPASS', 'EDITOR', 'VISUAL', 'PAGER', 'GIT_PAGER', 'BROWSER', 'HOSTALIASES',
  'LOCPATH', 'NLSPATH', 'MALLOC_CHECK_', 'TMPDIR',
])
const LOADER_PREFIXES = ['LD_', 'DYLD_', 'GIT_CONFIG']
/** The supervisor tags every agent with these (process tag, runner id); nobody else sets them. */
const SUPERVISOR_PREFIX = 'STRATAVORE_'

export const isLoaderVariable = (name: string): boolean => LOADER_EXACT.has(name) || LOADER_PREFIXES.some(p => name.startsWith(p))

// Variables that move where an agent reads its settings (Claude's hooks run commands) or where
// it sends its requests, with the operator's API key, and which certificates it trusts. An
// operator may set them in agents.<name>.env; a request only when launch_env names them.
const REDIRECT_EXACT = new Set([
  'HOME', 'CLAUDE_CONFIG_DIR', 'CODEX_HOME', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY',
  'NODE_EXTRA_CA_CERTS', 'NODE_TLS_REJECT_UNAUTHORIZED', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE',
])
const isRedirectVariable = (name: string): boolean => REDIRECT_EXACT.has(name) || /^XDG_[A-Z_]*(HOME|DIRS)$/.test(name) || name.endsWith('_BASE_URL')

const globCache = new Map<string, RegExp>()
/** `*` matches any run of characters (none included); every other character is literal. */
export const globMatches = (pattern: string, value: string): boolean => {
  let re = globCache.get(pattern)
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map(part => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's')
    if (globCache.size < 1000) globCache.set(pattern, re)
  }
  return re.test(value)
}

const checkValues = (environment: Record<string, string>) => {
  for (const [name, value] of Object.entries(environment)) {
    if (typeof value !== 'string') throw errors.invalidEnvironment(name, 'must have a string value')
    checkText(`environment.${name}`, value, MAX_ENV_VALUE_LENGTH)
  }
}

const checkName = (name: string) => {
  if (!ENV_NAME.test(name)) throw errors.invalidEnvironment(name, `is not a valid name (${ENV_NAME_PATTERN})`)
  if (name.startsWith(SUPERVISOR_PREFIX)) throw errors.invalidEnvironment(name, 'may not be set: STRATAVORE_* variables are the supervisor\'s own')
}

/** The rule for an operator's `agents.<name>.env`: valid names, no loader variables. */
export const checkEnvironment = (environment: Record<string, string>): Record<string, string> => {
  if (Object.keys(environment).length > MAX_ENV_VARS) throw errors.invalidArgument(`environment has more than ${MAX_ENV_VARS} variables`)
  for (const name of Object.keys(environment)) {
    checkName(name)
    if (isLoaderVariable(name)) throw errors.invalidEnvironment(name, 'may not be set: it changes how programs are loaded or interpreted')
  }
  checkValues(environment)
  return environment
}

/** A launch request's environment (its shape already checked) against its agent's launch_env. */
export const checkLaunchEnvironment = (agent: string, environment: Record<string, string>, policy: LaunchPolicy): void => {
  for (const name of Object.keys(environment)) {
    checkName(name)
    if (policy.launchEnv.includes(name)) continue
    if (isLoaderVariable(name)) {
      throw errors.invalidEnvironment(name, `may not be set: it changes how programs are loaded or interpreted (only agents.${agent}.launch_env naming it exactly allows it)`)
    }
    if (isRedirectVariable(name)) {
      throw errors.invalidEnvironment(name, `may not be set: it changes where the agent reads its settings or sends its requests (only agents.${agent}.launch_env naming it exactly allows it)`)
    }
    if (!policy.launchEnv.some(pattern => globMatches(pattern, name))) throw errors.environmentNotAllowed(name, agent, policy.launchEnv)
  }
}

/** A launch request's flags against its agent's allow_flags: each one must match a pattern. */
export const checkLaunchFlags = (agent: string, flags: readonly string[], policy: LaunchPolicy): void => {
  const refused = flags.findIndex(flag => !policy.allowFlags.some(pattern => globMatches(pattern, flag)))
  if (refused >= 0) throw errors.flagNotAllowed(redactFlags(flags)[refused]!, refused, agent, policy.allowFlags)
}
