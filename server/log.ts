/**
 * @module The logger: structured JSON lines from pino (`{"level","time","msg",...fields}`), pretty
 * on a terminal, with every secret-bearing field redacted. Callers see only the small `Logger`
 * interface; tests hand `createLogger` a sink and read the JSON lines back.
 */
import { createRequire } from 'node:module'
import pino, { type DestinationStream } from 'pino'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** What `[redacted]` replaces: credentials, cookies and every webhook signature or token header. */
const SECRET_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'token',
  'secret',
  'password',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-gitea-signature',
  'x-forgejo-signature',
  'x-gitlab-token',
  'webhook-signature',
  'circleci-signature',
  'x-buildkite-token',
  'x-buildkite-signature',
  'signature',
  'x-radiator-token',
]
/** The keys at the top of a line's fields and one level down (`headers.cookie`, `req.authorization`). */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [`["${k}"]`, `*["${k}"]`, `*.headers["${k}"]`])

export const REDACTED = '[redacted]'

export function createLogger(level: LogLevel, out?: (line: string) => void): Logger {
  const p = pino(
    {
      level,
      base: undefined,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    out ? sink(out) : destination()
  )
  return {
    debug: (m, f) => p.debug(f ?? {}, m),
    info: (m, f) => p.info(f ?? {}, m),
    warn: (m, f) => p.warn(f ?? {}, m),
    error: (m, f) => p.error(f ?? {}, m),
  }
}

/** Whole lines to a function (tests), without the trailing newline. */
function sink(out: (line: string) => void): DestinationStream {
  return { write: (s: string) => out(s.endsWith('\n') ? s.slice(0, -1) : s) }
}

/**
 * stderr, as JSON for a log collector; for a person at a terminal pino-pretty (a dev dependency,
 * absent from a production install) formats it, synchronously so nothing is lost at exit.
 */
function destination(): DestinationStream {
  if (process.stderr.isTTY) {
    try {
      const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => DestinationStream
      return pretty({ sync: true, destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
    } catch {
      // not installed: JSON it is
    }
  }
  return pino.destination({ dest: 2, sync: true })
}
