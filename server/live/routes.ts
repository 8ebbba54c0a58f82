/**
 * @module The three live transports, one stream: WebSocket at /live, Server-Sent Events at
 * /live/sse, long polling at /live/poll. Each starts with a snapshot, then replays from the
 * client's last id (`since` or Last-Event-ID, the newer of the two), a page at a time, then
 * streams live.
 */
import { Hono, type Context } from 'hono'
import { upgradeWebSocket } from '@hono/node-server'
import type { ServerResponse } from 'node:http'
import type { WebSocket } from 'ws'
import type { Transport } from '../../contract/live.ts'
import type { Config } from '../config.ts'
import { AppError, errorBody } from '../errors.ts'
import type { Logger } from '../log.ts'
import { clientIp } from '../http/client-ip.ts'
import { nodeRequestOf } from '../http/node-routes.ts'
import { Admission } from './admission.ts'
import { catchUp } from './catch-up.ts'
import type { ClientMeta } from './clients.ts'
import type { Hub } from './hub.ts'
import { acceptsGzip, answerPoll, GZIP_HEADERS, JSON_HEADERS } from './poll.ts'
import { SseClient, sseRefusal } from './sse.ts'
import { sseCoding } from './sse-encoding.ts'
import { parseTopics } from './topics.ts'
import { WsClient } from './ws.ts'
import { access, principalOf } from '../access/guard.ts'
import type { Telemetry } from '../observability/telemetry.ts'

export interface LiveDeps {
  hub: Hub
  config: Config
  log: Logger
  telemetry: Telemetry
}

/** Seconds a refused client is asked to wait (Retry-After; `retry:` for EventSource). */
export const BUSY_RETRY_S = 5

/** The one Admission per hub: every transport's connections count against the same limits. */
const admissions = new WeakMap<Hub, Admission>()
export function admissionOf(hub: Hub, config: Config): Admission {
  let a = admissions.get(hub)
  if (!a) admissions.set(hub, (a = new Admission(config.LIVE_MAX_CLIENTS, config.LIVE_MAX_CLIENTS_PER_ADDRESS)))
  return a
}

/** What the admin's screen list shows of a connection; `client` is the page's `?client=` version. */
export function clientMeta(
  hub: Hub,
  transport: ClientMeta['transport'],
  client: string | undefined,
  address: string,
  userAgent: string | undefined
): ClientMeta {
  return {
    transport,
    version: client && /^[\w.+-]{1,60}$/.test(client) ? client : hub.version,
    connectedAt: Date.now(),
    address,
    userAgent: userAgent?.slice(0, 300) ?? null,
  }
}

function eventId(v: string | undefined, what: string): number | null {
  if (v === undefined || v === '') return null
  if (!/^\d{1,15}$/.test(v)) throw new AppError('BAD_REQUEST', `${what} must be a non-negative integer event id`)
  return Number(v)
}

/** Node's response under @hono/node-server; none under app.request() in unit tests. */
function nodeResponseOf(c: Context): ServerResponse | undefined {
  return (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
}

/** Listens for the client going away: its socket's close, or the request's signal under app.request(). */
function whenGone(c: Context) {
  return (f: () => void): (() => void) => {
    const socket = nodeRequestOf(c)?.socket
    if (socket) {
      socket.once('close', f)
      return () => socket.off('close', f)
    }
    const signal = c.req.raw.signal
    signal.addEventListener('abort', f)
    return () => signal.removeEventListener('abort', f)
  }
}

/**
 * The resume point: `since` from the query and the Last-Event-ID header, the newer of the two. A
 * standard EventSource reconnects to the URL it was opened with (`?since=N` and all) and sends the
 * id it last saw in the header, which is the position that counts.
 */
export function resumeId(query: string | undefined, header: string | undefined): number | null {
  const q = eventId(query, 'since')
  const h = eventId(header, 'Last-Event-ID')
  if (q === null) return h
  if (h === null) return q
  return Math.max(q, h)
}

export function liveRoutes({ hub, config, log, telemetry }: LiveDeps) {
  const cutOff = (transport: Transport, reason: string) => {
    telemetry.liveCutOff(transport, reason)
    log.warn('live client cut off', { transport, reason })
  }
  const app = new Hono()
  const enabled = new Set(config.LIVE_TRANSPORTS)
  const admission = admissionOf(hub, config)

  /**
   * A slot for this connection until its socket closes (or `release` is called first), or the
   * reason it is refused. The socket's close is the one event every way a connection ends shares
   * (an upgrade that never completes, a stream the client drops, a poll that is answered).
   */
  const admit = (c: Context, transport: Transport): (() => void) | string => {
    if (!enabled.has(transport))
      throw new AppError('NOT_FOUND', `the ${transport} transport is disabled (LIVE_TRANSPORTS)`)
    const slot = admission.admit(clientIp(c, config.TRUST_PROXY))
    if (typeof slot === 'string') {
      log.warn('live client refused', { transport, reason: slot })
      return slot
    }
    const socket = nodeRequestOf(c)?.socket
    socket?.once('close', slot)
    // A keep-alive socket serves poll after poll: each answered poll takes its listener back.
    return () => {
      socket?.off('close', slot)
      slot()
    }
  }
  /** WebSocket and polling clients (ours, partysocket, …) retry a 503 after Retry-After. */
  const meta = (c: Context, transport: ClientMeta['transport']): ClientMeta =>
    clientMeta(hub, transport, c.req.query('client'), clientIp(c, config.TRUST_PROXY), c.req.header('user-agent'))
  const busy = (c: Context, reason: string) =>
    c.json(errorBody('UNAVAILABLE', reason), 503, { 'retry-after': String(BUSY_RETRY_S) })

  app.get(
    '/',
    access.viewer,
    async (c, next) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket')
        throw new AppError(
          'BAD_REQUEST',
          'GET /live is a WebSocket endpoint; use /live/sse or /live/poll over plain HTTP'
        )
      resumeId(c.req.query('since'), undefined)
      const slot = admit(c, 'ws')
      if (typeof slot === 'string') return busy(c, slot)
      c.set('liveSlot' as never, slot as never)
      await next()
    },
    upgradeWebSocket((c) => {
      const since = resumeId(c.req.query('since'), undefined)
      const topics = parseTopics(c.req.query('topics'))
      const release = c.get('liveSlot' as never) as () => void
      let client: WsClient | undefined
      const gone = () => {
        if (client) hub.disconnect(client)
        release()
      }
      return {
        onOpen(_evt, ws) {
          const raw = ws.raw as WebSocket
          const cut = (reason: string) => cutOff('ws', reason)
          client = new WsClient(raw, topics, config.LIVE_CLIENT_BUFFER_BYTES, (reason) => {
            // Stop fanning out to it at once; the socket itself closes after the close handshake.
            hub.disconnect(client!)
            cut(reason)
          })
          client.principal = principalOf(c).id
          client.meta = meta(c, 'ws')
          hub.join(client)
          catchUp(hub, client, since, cut).catch((e) => {
            log.error('live catch-up failed', { transport: 'ws', err: String(e) })
            client?.close(1011, 'internal error')
          })
        },
        onClose: gone,
        onError: gone,
      }
    })
  )

  app.get('/sse', access.viewer, (c) => {
    const since = resumeId(c.req.query('since'), c.req.header('last-event-id'))
    const topics = parseTopics(c.req.query('topics'))
    const slot = admit(c, 'sse')
    if (typeof slot === 'string') {
      return sseRefusal({ ...errorBody('UNAVAILABLE', slot), retryAfterMs: BUSY_RETRY_S * 1000 })
    }
    const cut = (reason: string) => cutOff('sse', reason)
    const client: SseClient = new SseClient(
      topics,
      config.LIVE_CLIENT_BUFFER_BYTES,
      () => {
        hub.disconnect(client)
        slot()
      },
      cut,
      nodeResponseOf(c),
      sseCoding(c.req.header('accept-encoding'))
    )
    client.principal = principalOf(c).id
    client.meta = meta(c, 'sse')
    hub.join(client)
    catchUp(hub, client, since, cut).catch((e) => {
      log.error('live catch-up failed', { transport: 'sse', err: String(e) })
      client.close()
    })
    return new Response(client.stream, { headers: client.headers })
  })

  // Served by poll-node.ts on Node's request in a running server; this route answers HEAD, a
  // disabled transport (404) and app.request(), and declares the access level.
  app.get('/poll', access.viewer, async (c) => {
    const since = resumeId(c.req.query('since'), c.req.header('last-event-id'))
    const topics = parseTopics(c.req.query('topics'))
    const slot = admit(c, 'poll')
    if (typeof slot === 'string') return busy(c, slot)
    try {
      const answer = await answerPoll(hub, {
        since,
        topics,
        wantsSnapshot: c.req.query('snapshot') === '1',
        principal: principalOf(c).id,
        meta: meta(c, 'poll'),
        timeoutMs: config.LIVE_POLL_TIMEOUT_MS,
        whenGone: whenGone(c),
        gzip: acceptsGzip(c.req.header('accept-encoding')),
      })
      return new Response(answer.body, { headers: answer.gzip ? { ...JSON_HEADERS, ...GZIP_HEADERS } : JSON_HEADERS })
    } finally {
      slot()
    }
  })

  return app
}
