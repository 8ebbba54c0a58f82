/**
 * @module One error vocabulary: a closed list of codes, their HTTP status, and the one handler that
 * turns any thrown error into `{ code, message }` without leaking stacks.
 */
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Context } from 'hono'
import { ZodError } from 'zod'
import type { Logger } from './log.ts'

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>

export type ErrorCode = keyof typeof ERROR_STATUS

export class AppError extends HTTPException {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra?: Record<string, unknown>
  ) {
    super(ERROR_STATUS[code], { message })
  }
}

export function errorBody(code: ErrorCode, message: string, extra?: Record<string, unknown>) {
  return { code, message, ...extra }
}

export function zodMessage(e: ZodError): string {
  const i = e.issues[0]
  if (!i) return 'invalid input'
  const path = i.path.length ? i.path.join('.') + ': ' : ''
  return `${path}${i.message}`
}

/** Any thrown error as a status and `{ code, message }`; only unexpected ones are logged, without leaking their stack to the client. */
export function errorAnswer(err: unknown, log: Logger, path: string): { status: ContentfulStatusCode; body: ReturnType<typeof errorBody> } {
  if (err instanceof AppError) return { status: err.status, body: errorBody(err.code, err.message, err.extra) }
  if (err instanceof ZodError) return { status: 400, body: errorBody('BAD_REQUEST', zodMessage(err)) }
  if (err instanceof HTTPException) {
    const status = err.status
    const code = (Object.entries(ERROR_STATUS).find(([, s]) => s === status)?.[0] ?? 'INTERNAL') as ErrorCode
    return { status, body: errorBody(code, err.message || code.toLowerCase().replace(/_/g, ' ')) }
  }
  log.error('unhandled error', { path, err: err instanceof Error ? (err.stack ?? String(err)) : String(err) })
  return { status: 500, body: errorBody('INTERNAL', 'internal error') }
}

export function makeErrorHandler(log: Logger) {
  return function handleError(err: Error, c: Context) {
    const { status, body } = errorAnswer(err, log, c.req.path)
    return c.json(body, status)
  }
}
