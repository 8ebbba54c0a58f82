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

export function makeErrorHandler(log: Logger) {
  return function handleError(err: Error, c: Context) {
    if (err instanceof AppError) {
      return c.json(errorBody(err.code, err.message, err.extra), err.status)
    }
    if (err instanceof ZodError) return c.json(errorBody('BAD_REQUEST', zodMessage(err)), 400)
    if (err instanceof HTTPException) {
      const status = err.status
      const code = (Object.entries(ERROR_STATUS).find(([, s]) => s === status)?.[0] ?? 'INTERNAL') as ErrorCode
      return c.json(errorBody(code, err.message || code.toLowerCase().replace(/_/g, ' ')), status)
    }
    log.error('unhandled error', { path: c.req.path, err: err.stack ?? String(err) })
    return c.json(errorBody('INTERNAL', 'internal error'), 500)
  }
}
