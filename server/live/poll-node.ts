/**
 * @module GET /live/poll answered on Node's own request and response (http/node-routes.ts), before
 * Hono sees it. A change answers every held poll in the same turn — 1,000 requests at 1,000 screens —
 * and on the Hono route most of that turn was the framework's per-request work, not the poll's
 * (--cpu-prof of BENCH_LEVELS=1000 bench/fanout.ts: the adapter's response writing 16 %, the request
 * log 12 %, secureHeaders 11 %, the poll itself 3–5 %). The steps are the Hono route's, from the
 * same pieces: the credential check (AccessControl, as every guard does it), the resume point and
 * topics (routes.ts), the admission WebSocket and SSE count against, the answer (poll.ts), app.ts's
 * security headers (read once at start), the request id and the log-line policy
 * (observability/requests.ts), and a count per status for /metrics. No CORS (the Hono route sends
 * none) and no CSRF check (a GET changes nothing). HEAD, and the transport when LIVE_TRANSPORTS
 * leaves it out, still go to the Hono route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Hono, type MiddlewareHandler } from 'hono'
import type { AccessControl } from '../access/guard.ts'
import { securityHeaders } from '../app.ts'
import { AppError, errorAnswer } from '../errors.ts'
import { clientIpOf } from '../http/client-ip.ts'
import { headerOf, type NodeRoutes } from '../http/node-routes.ts'
import { requestIdFrom, requestLines } from '../observability/requests.ts'
import { answerPoll, GZIP_HEADERS, JSON_HEADERS, type PollAnswer, acceptsGzip } from './poll.ts'
import { admissionOf, BUSY_RETRY_S, clientMeta, type LiveDeps, resumeId } from './routes.ts'
import { parseTopics } from './topics.ts'

export const POLL_PATH = '/live/poll'

export interface PollNodeDeps extends LiveDeps {
  /** The app's own access control (its failure counts are shared with every guard). */
  access: AccessControl
}

/** The node route for GET /live/poll; none when LIVE_TRANSPORTS leaves polling out (Hono answers 404). */
export async function pollNodeRoutes(d: PollNodeDeps): Promise<NodeRoutes> {
  const { hub, config, log, access } = d
  if (!config.LIVE_TRANSPORTS.includes('poll')) return {}
  const secure = await headersAddedBy(securityHeaders(config))
  // Node takes a flat [name, value, …] list as it is; an object it would walk key by key.
  const okHeaders = Object.entries({ ...secure, ...JSON_HEADERS }).flat()
  const gzipHeaders = Object.entries({ ...secure, ...JSON_HEADERS, ...GZIP_HEADERS }).flat()
  const admission = admissionOf(hub, config)
  const requests = d.telemetry.nodeRoute('GET', POLL_PATH)
  const logLine = requestLines({
    log,
    successPerSecond: config.LOG_SUCCESS_PER_SECOND,
    sampleRate: config.LOG_SAMPLE_SUCCESS,
  })

  /** The answer of a poll that is let through; throws the refusals the Hono route throws, in its order. */
  async function poll(req: IncomingMessage): Promise<PollAnswer> {
    // A credential made on another instance a moment ago is looked for in the database (access/guard.ts).
    const p = await access.principalOfRequestChecked(req, config.TRUST_PROXY)
    const refused = access.refusal(p, 'viewer', () => clientIpOf(req, config.TRUST_PROXY))
    if (refused) throw refused
    const url = req.url ?? ''
    const q = url.indexOf('?')
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
    const since = resumeId(query.get('since') ?? undefined, headerOf(req, 'last-event-id'))
    const topics = parseTopics(query.get('topics'))
    const address = clientIpOf(req, config.TRUST_PROXY)
    const slot = admission.admit(address)
    if (typeof slot === 'string') {
      log.warn('live client refused', { transport: 'poll', reason: slot })
      throw new AppError('UNAVAILABLE', slot, undefined, { 'retry-after': String(BUSY_RETRY_S) })
    }
    const socket = req.socket
    try {
      return await answerPoll(hub, {
        since,
        topics,
        wantsSnapshot: query.get('snapshot') === '1',
        principal: p.id,
        meta: clientMeta(hub, 'poll', query.get('client') ?? undefined, address, headerOf(req, 'user-agent')),
        timeoutMs: config.LIVE_POLL_TIMEOUT_MS,
        whenGone(f) {
          socket.once('close', f)
          return () => socket.off('close', f)
        },
        gzip: acceptsGzip(headerOf(req, 'accept-encoding')),
      })
    } finally {
      slot()
    }
  }

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = performance.now()
    let status = 200
    let id: string | undefined
    const requestId = () => (id ??= requestIdFrom(headerOf(req, 'x-request-id')))
    try {
      const a = await poll(req)
      if (!res.destroyed)
        res.writeHead(200, [...(a.gzip ? gzipHeaders : okHeaders), 'content-length', String(a.body.length)]).end(a.body)
    } catch (e) {
      const err = errorAnswer(e, log, POLL_PATH)
      status = err.status
      const body = JSON.stringify({ ...err.body, requestId: requestId() })
      if (!res.destroyed)
        res
          .writeHead(status, {
            ...secure,
            'content-type': 'application/json',
            ...err.headers,
            'x-request-id': requestId(),
            'content-length': Buffer.byteLength(body),
          })
          .end(body)
    }
    requests.add(status)
    const seconds = (performance.now() - start) / 1000
    logLine({ method: 'GET', route: POLL_PATH, status, seconds, gone: req.socket.destroyed }, requestId)
  }

  return {
    [`GET ${POLL_PATH}`]: (req, res) => {
      // Nothing catches after a node route: a throw here would be an unhandled rejection.
      answer(req, res).catch((e: unknown) => {
        log.error('live poll: answering failed', { err: e instanceof Error ? (e.stack ?? e.message) : String(e) })
        res.destroy()
      })
    },
  }
}

/** The headers a middleware adds to an answer, read by running it once on an app of its own. */
async function headersAddedBy(mw: MiddlewareHandler): Promise<Record<string, string>> {
  const res = await new Hono()
    .use(mw)
    .get('/', (c) => c.body(null))
    .request('/')
  return Object.fromEntries(res.headers)
}
