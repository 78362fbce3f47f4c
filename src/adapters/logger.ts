// pino, pretty on a terminal and JSON otherwise. Secrets that could reach a log line through
// request bodies or config are redacted by path.
import { pino, type Logger } from 'pino'

export type { Logger }

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.token',
  '*.environment',
  'config.databaseUrl',
  'config.amqpUrl',
  // The audit log's HMAC keys: whoever holds one can forge history.
  '*.audit_key',
  'auditKeys',
  '*.auditKeys',
  // Every credential the config holds, gathered to keep them from agents: never for a log.
  'daemonSecrets',
  '*.daemonSecrets',
  // TLS private keys read from daemon.tls_key_file and daemon.grpc_tls_key_file.
  '*.httpTls',
  '*.grpcTls',
  'config.security.audit_key',
]

export const createLogger = ({ level, format }: { level: string, format: 'auto' | 'json' | 'pretty' }): Logger => {
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true)
  return pino({
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  })
}
