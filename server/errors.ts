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
    readonly extra?: Record<string, unknown>,
    /** Response headers that belong to this answer (Retry-After). */
    readonly headers?: Record<string, string>
  ) {
    super(ERROR_STATUS[code], { message })
  }
}

/**
 * The client closed the connection before its body arrived: ordinary life on the internet, and
 * possible before authentication, so it is answered (to nobody) and logged at debug level only.
 */
export class ClientGoneError extends AppError {
  override name = 'ClientGoneError'
  constructor() {
    super('BAD_REQUEST', 'the request body ended early')
  }
}

/**
 * Radiator can't start, for a reason the operator fixes (a variable, the disk, another process):
 * main.ts prints the message as one line and exits 1, like a bad config value.
 */
export class StartupError extends Error {
  override name = 'StartupError'
}

export function errorBody(code: ErrorCode, message: string, extra?: Record<string, unknown>) {
  return { code, message, ...extra }
}

export function zodMessage(e: ZodError): string {
  const i = e.issues[0]
  if (!i) return 'invalid input'
  const path = i.path.length ? `${i.path.join('.')}: ` : ''
  return `${path}${i.message}`
}

export interface ErrorAnswer {
  status: ContentfulStatusCode
  body: ReturnType<typeof errorBody>
  headers: Record<string, string>
}

/**
 * Any thrown error as a status, `{ code, message }` and headers; only unexpected ones are logged,
 * without leaking their stack to the client. `clientGone`: the request was aborted by its client,
 * so whatever failed because of that is not the server's error.
 */
export function errorAnswer(err: unknown, log: Logger, path: string, clientGone = false): ErrorAnswer {
  const answer = (
    status: ContentfulStatusCode,
    body: ErrorAnswer['body'],
    headers: Record<string, string> = {}
  ): ErrorAnswer => {
    // A refused body is not read to its end: the connection can't carry another request.
    if (status === 413) headers = { ...headers, connection: 'close' }
    return { status, body, headers }
  }
  if (err instanceof ClientGoneError || (clientGone && !(err instanceof HTTPException))) {
    log.debug('client went away before its request was read', { path })
    return answer(400, errorBody('BAD_REQUEST', 'the request body ended early'))
  }
  if (err instanceof AppError) return answer(err.status, errorBody(err.code, err.message, err.extra), err.headers)
  if (err instanceof ZodError) return answer(400, errorBody('BAD_REQUEST', zodMessage(err)))
  if (err instanceof HTTPException) {
    const status = err.status
    const code = (Object.entries(ERROR_STATUS).find(([, s]) => s === status)?.[0] ?? 'INTERNAL') as ErrorCode
    return answer(status, errorBody(code, err.message || code.toLowerCase().replace(/_/g, ' ')))
  }
  log.error('unhandled error', { path, err: err instanceof Error ? (err.stack ?? String(err)) : String(err) })
  return answer(500, errorBody('INTERNAL', 'internal error'))
}

export function makeErrorHandler(log: Logger) {
  return function handleError(err: Error, c: Context) {
    const { status, body, headers } = errorAnswer(err, log, c.req.path, c.req.raw.signal.aborted)
    const requestId = c.get('requestId' as never) as string | undefined
    return c.json(requestId ? { ...body, requestId } : body, status, headers)
  }
}
