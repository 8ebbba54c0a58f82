/**
 * @module POST /api/collect, answered on Node's request and response (server/http/node-routes.ts)
 * because it is the one route whose rate is set by other people's traffic. It only translates:
 * body in (with its limit), the pipeline's outcome out as 202 or an error with a reason, CORS for
 * the site's own pages. The preflight (OPTIONS) stays a Hono route in routes.ts.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { errorAnswer, ERROR_STATUS, errorBody, type ErrorCode } from '../errors.ts'
import { headerOf, type NodeHandler } from '../http/node-routes.ts'
import { clientIpOf } from '../http/client-ip.ts'
import type { Logger } from '../log.ts'
import { Drop, type DropReason, type Ingest, type Outcome } from './pipeline.ts'
import { ABORTED, readNodeBody } from '../http/body.ts'
import type { Sites } from './sites.ts'
import type { StatusCounts } from '../observability/telemetry.ts'

export const COLLECT_PATH = '/api/collect'
export const COLLECT_LIMIT_BYTES = 16 * 1024

/** How each drop is answered: a bot gets a harmless 202 (Umami does the same), the rest an error. */
const DROP_ANSWER: Record<DropReason, ErrorCode | 'ACCEPTED'> = {
  rate_limited: 'TOO_MANY_REQUESTS',
  too_large: 'PAYLOAD_TOO_LARGE',
  unsupported_type: 'UNSUPPORTED_MEDIA_TYPE',
  not_json: 'BAD_REQUEST',
  invalid: 'BAD_REQUEST',
  unknown_site: 'NOT_FOUND',
  bad_origin: 'FORBIDDEN',
  bot: 'ACCEPTED',
}

export interface CollectDeps {
  ingest: Ingest
  sites: Sites
  trustProxy: boolean
  log: Logger
  /** Answers by status, for /metrics (an array increment per request). */
  requests?: StatusCounts
}

export function collectHandler(d: CollectDeps): NodeHandler {
  let proxyHinted = false
  return (req, res) => {
    if (!proxyHinted && !d.trustProxy && req.headers['x-forwarded-for'] !== undefined) {
      // Behind a proxy without TRUST_PROXY every visitor has the proxy's address: one visitor id
      // per browser build, and one COLLECT_PER_MINUTE allowance for the whole site. Said once.
      proxyHinted = true
      d.log.warn(
        'collect: beacons carry X-Forwarded-For but TRUST_PROXY is off; if Radiator is behind a reverse proxy, set TRUST_PROXY=true'
      )
    }
    // Nothing catches after a node route: a throw here would be an unhandled rejection.
    answer(req, res).catch((e: unknown) => {
      d.log.error('collect: answering failed', { err: e instanceof Error ? (e.stack ?? e.message) : String(e) })
      res.destroy()
    })
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const origin = headerOf(req, 'origin')
    let outcome: Outcome
    try {
      const body = await readNodeBody(req, COLLECT_LIMIT_BYTES)
      if (body === ABORTED) return d.log.debug('client went away before its request was read', { path: COLLECT_PATH })
      outcome =
        body === null
          ? d.ingest.dropped(new Drop('too_large', `the body is larger than ${COLLECT_LIMIT_BYTES} bytes`))
          : await d.ingest.run({
              contentType: headerOf(req, 'content-type'),
              body,
              origin,
              userAgent: headerOf(req, 'user-agent'),
              ip: clientIpOf(req, d.trustProxy),
            })
    } catch (e) {
      // The writer refusing (shutting down, disk failed) is a 503 with its reason; anything else
      // is logged and a 500.
      const { status, body, headers } = errorAnswer(e, d.log, COLLECT_PATH)
      return reply(res, status, { ...headers, ...cors(origin, d.sites.originAllowedForAny(origin)) }, body)
    }
    const headers = cors(
      origin,
      outcome.site ? d.sites.originAllowed(origin, outcome.site) : d.sites.originAllowedForAny(origin)
    )
    if (outcome.accepted) return reply(res, 202, headers)
    const code = DROP_ANSWER[outcome.drop.reason]
    headers['x-radiator-dropped'] = outcome.drop.reason
    if (code === 'ACCEPTED') return reply(res, 202, headers)
    // A body over the limit is not read to its end: the connection closes after this answer,
    // lingering until the client has sent the rest (http/connections.ts) so it reads the 413.
    if (outcome.drop.reason === 'too_large') headers.connection = 'close'
    if (outcome.drop.retryAfterS) headers['retry-after'] = String(outcome.drop.retryAfterS)
    reply(res, ERROR_STATUS[code], headers, errorBody(code, outcome.drop.message, { reason: outcome.drop.reason }))
  }

  function reply(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, json?: object): void {
    d.requests?.add(status)
    send(res, status, headers, json)
  }
}

/** The page's origin may read the answer when it may report (for any site, or the beacon's). */
function cors(origin: string | undefined, allowed: boolean): OutgoingHttpHeaders {
  return allowed && origin ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {}
}

function send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, json?: object): void {
  if (res.destroyed) return
  if (json === undefined) {
    res.writeHead(status, headers).end()
    return
  }
  headers['content-type'] = 'application/json'
  res.writeHead(status, headers).end(JSON.stringify(json))
}
