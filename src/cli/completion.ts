// `stratavore completion bash|zsh|fish`: scripts generated from the command table (args.ts),
// so a new command or flag completes without touching this file. Project names and runner ids
// come from the daemon at completion time through the hidden `stratavore __complete` command,
// which prints one name per line and nothing at all when the daemon is down.
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec } from './args.js'
import { UsageError } from './io.js'

const visible = COMMANDS
const flagsOf = (c?: CommandSpec) => Object.entries({ ...GLOBAL_OPTIONS, ...(c?.options ?? {}) })
const longFlags = (c?: CommandSpec) => flagsOf(c).map(([n]) => `--${n}`)
const valueFlags = () => [...new Set(COMMANDS.flatMap(c => flagsOf(c).filter(([, o]) => o.type === 'string').flatMap(([n, o]) => [`--${n}`, ...(o.short ? [`-${o.short}`] : [])])))]
const short = (text: string) => text.split(/[:(]/)[0]!.trim()
const BY_KIND = { project: 'projects', runner: 'runners' } as const
const dynamic = (c: CommandSpec, kind: 'project' | 'runner') => c.completes?.[0] === kind
const withSubcommands = visible.filter(c => c.subcommands)
// Flags with a fixed set of values (`--role admin|operator|viewer`), each once.
const choiceFlags = () => [...new Map(COMMANDS.flatMap(c => flagsOf(c)).filter(([, o]) => o.choices).map(([n, o]) => [n, o.choices!])).entries()]

const bash = () => `# stratavore completion for bash. Load it with: source <(stratavore completion bash)
_stratavore() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${valueFlags().join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$prev" in
    --config|-c|--path|-p) COMPREPLY=($(compgen -f -- "$cur")); return ;;
${choiceFlags().map(([n, values]) => `    --${n}) COMPREPLY=($(compgen -W "${values.join(' ')}" -- "$cur")); return ;;`).join('\n')}
    ${valueFlags().filter(f => !['--config', '-c', '--path', '-p'].includes(f)).join('|')}) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    case "$cmd" in
${visible.map(c => `      ${c.name}) COMPREPLY=($(compgen -W "${longFlags(c).join(' ')}" -- "$cur")) ;;`).join('\n')}
      *) COMPREPLY=($(compgen -W "${longFlags(COMMANDS[0]).join(' ')}" -- "$cur")) ;;
    esac
    return
  fi
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "${visible.map(c => c.name).join(' ')} $(stratavore __complete projects 2>/dev/null)" -- "$cur")) ;;
    ${visible.filter(c => dynamic(c, 'project')).map(c => c.name).join('|')}) COMPREPLY=($(compgen -W "$(stratavore __complete projects 2>/dev/null)" -- "$cur")) ;;
    ${visible.filter(c => dynamic(c, 'runner')).map(c => c.name).join('|')}) COMPREPLY=($(compgen -W "$(stratavore __complete runners 2>/dev/null)" -- "$cur")) ;;
${withSubcommands.map(c => `    ${c.name}) [[ "\${COMP_WORDS[COMP_CWORD-1]}" == ${c.name} ]] && COMPREPLY=($(compgen -W "${c.subcommands!.join(' ')}" -- "$cur")) ;;`).join('\n')}
    completion) COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
    help) COMPREPLY=($(compgen -W "${visible.map(c => c.name).join(' ')}" -- "$cur")) ;;
  esac
}
complete -F _stratavore stratavore
`

const zshQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
const zsh = () => `#compdef stratavore
# stratavore completion for zsh. Load it with: source <(stratavore completion zsh)
# (or save it as _stratavore in a directory of your $fpath).
_stratavore() {
  local -a commands
  commands=(
${visible.map(c => `    ${zshQuote(`${c.name}:${short(c.summary).replaceAll(':', '\\:')}`)}`).join('\n')}
  )
  local cmd="" i
  for ((i = 2; i < CURRENT; i++)); do
    case "$words[i]" in
      ${valueFlags().join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd="$words[i]"; break ;;
    esac
  done
  case "$words[CURRENT-1]" in
    --config|-c|--path|-p) _files; return ;;
${choiceFlags().map(([n, values]) => `    --${n}) compadd -- ${values.join(' ')}; return ;;`).join('\n')}
    ${valueFlags().filter(f => !['--config', '-c', '--path', '-p'].includes(f)).join('|')}) return ;;
  esac
  if [[ "$PREFIX" == -* ]]; then
    case "$cmd" in
${visible.map(c => `      ${c.name}) compadd -- ${longFlags(c).join(' ')} ;;`).join('\n')}
      *) compadd -- ${longFlags(COMMANDS[0]).join(' ')} ;;
    esac
    return
  fi
  case "$cmd" in
    "") _describe -t commands 'stratavore command' commands; compadd -- \${(f)"$(stratavore __complete projects 2>/dev/null)"} ;;
    ${visible.filter(c => dynamic(c, 'project')).map(c => c.name).join('|')}) compadd -- \${(f)"$(stratavore __complete projects 2>/dev/null)"} ;;
    ${visible.filter(c => dynamic(c, 'runner')).map(c => c.name).join('|')}) compadd -- \${(f)"$(stratavore __complete runners 2>/dev/null)"} ;;
${withSubcommands.map(c => `    ${c.name}) [[ "$words[CURRENT-1]" == ${c.name} ]] && compadd -- ${c.subcommands!.join(' ')} ;;`).join('\n')}
    completion) compadd -- bash zsh fish ;;
    help) compadd -- ${visible.map(c => c.name).join(' ')} ;;
  esac
}
compdef _stratavore stratavore
`

const fishQuote = (s: string) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
const fish = () => {
  const lines = [
    '# stratavore completion for fish. Load it with: stratavore completion fish | source',
    'complete -c stratavore -f',
    ...visible.map(c => `complete -c stratavore -n __fish_use_subcommand -a ${c.name} -d ${fishQuote(short(c.summary))}`),
    `complete -c stratavore -n __fish_use_subcommand -a '(stratavore __complete projects 2>/dev/null)' -d project`,
    ...Object.keys(BY_KIND).map(kind => {
      const names = visible.filter(c => dynamic(c, kind as 'project' | 'runner')).map(c => c.name).join(' ')
      return `complete -c stratavore -n '__fish_seen_subcommand_from ${names}' -a '(stratavore __complete ${BY_KIND[kind as 'project' | 'runner']} 2>/dev/null)'`
    }),
    ...withSubcommands.map(c => `complete -c stratavore -n '__fish_seen_subcommand_from ${c.name}; and not __fish_seen_subcommand_from ${c.subcommands!.join(' ')}' -a '${c.subcommands!.join(' ')}'`),
    "complete -c stratavore -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'",
    ...Object.entries(GLOBAL_OPTIONS).map(([n, o]) => `complete -c stratavore -l ${n}${o.short ? ` -s ${o.short}` : ''}${o.type === 'string' ? ' -r' : ''} -d ${fishQuote(short(o.help))}`),
    ...visible.flatMap(c => Object.entries(c.options).map(([n, o]) =>
      `complete -c stratavore -n '__fish_seen_subcommand_from ${c.name}' -l ${n}${o.short ? ` -s ${o.short}` : ''}${o.type === 'string' ? ' -r' : ''}${o.choices ? ` -a '${o.choices.join(' ')}'` : ''} -d ${fishQuote(short(o.help))}`)),
  ]
  return `${lines.join('\n')}\n`
}

const SCRIPTS: Record<string, () => string> = { bash, zsh, fish }

export const completionScript = (shell: string): string => {
  const script = SCRIPTS[shell]
  if (!script) throw new UsageError(`completion: unknown shell ${JSON.stringify(shell)} (bash, zsh or fish)`)
  return script()
}
