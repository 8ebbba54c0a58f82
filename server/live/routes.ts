/**
 * @module The three live transports, one stream: WebSocket at /live, Server-Sent Events at
 * /live/sse, long polling at /live/poll. Each starts with a snapshot, then replays from the
 * client's last id (`since` or Last-Event-ID), then streams live.
 */
import { Hono } from 'hono'
import { upgradeWebSocket } from '@hono/node-server'
import type { WebSocket } from 'ws'
import type { Config } from '../config.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../log.ts'
import { parseTopics, type Frame, type Hub, type LiveClient, type Topics } from './hub.ts'
import { SseClient } from './sse.ts'
import { WsClient } from './ws.ts'

export interface LiveDeps {
  hub: Hub
  config: Config
  log: Logger
}

/** `since` from the query, else the Last-Event-ID header; null when neither is given. */
function resumeId(query: string | undefined, header: string | undefined): number | null {
  const v = query ?? header
  if (v === undefined || v === '') return null
  if (!/^\d{1,15}$/.test(v)) throw new AppError('BAD_REQUEST', 'since must be a non-negative integer event id')
  return Number(v)
}

export function liveRoutes({ hub, config, log }: LiveDeps) {
  const app = new Hono()
  const enabled = new Set(config.LIVE_TRANSPORTS)

  const admit = (transport: string) => {
    if (!enabled.has(transport as 'ws'))
      throw new AppError('NOT_FOUND', `the ${transport} transport is disabled (LIVE_TRANSPORTS)`)
    if (hub.clientCount >= config.LIVE_MAX_CLIENTS)
      throw new AppError('UNAVAILABLE', `too many live clients (LIVE_MAX_CLIENTS=${config.LIVE_MAX_CLIENTS})`)
  }

  app.get(
    '/',
    async (c, next) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket')
        throw new AppError('BAD_REQUEST', 'GET /live is a WebSocket endpoint; use /live/sse or /live/poll over plain HTTP')
      admit('ws')
      resumeId(c.req.query('since'), undefined)
      await next()
    },
    upgradeWebSocket((c) => {
      const since = resumeId(c.req.query('since'), undefined)
      const topics = parseTopics(c.req.query('topics'))
      let client: WsClient | undefined
      return {
        onOpen(_evt, ws) {
          const raw = ws.raw as WebSocket
          client = new WsClient(raw, topics, config.LIVE_CLIENT_BUFFER_BYTES, (reason) => {
            // Stop fanning out to it at once; the socket itself closes after the close handshake.
            hub.disconnect(client!)
            log.warn('live client cut off', { transport: 'ws', reason })
          })
          const conn = hub.connect(client, since)
          client.send(conn.snapshot)
          for (const f of conn.replay) client.send(f)
        },
        onClose() {
          if (client) hub.disconnect(client)
        },
        onError() {
          if (client) hub.disconnect(client)
        },
      }
    })
  )

  app.get('/sse', (c) => {
    admit('sse')
    const since = resumeId(c.req.query('since'), c.req.header('last-event-id'))
    const topics = parseTopics(c.req.query('topics'))
    const client: SseClient = new SseClient(
      topics,
      config.LIVE_CLIENT_BUFFER_BYTES,
      () => hub.disconnect(client),
      (reason) => log.warn('live client cut off', { transport: 'sse', reason })
    )
    client.begin(hub.connect(client, since))
    return new Response(client.stream, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store, no-transform',
        connection: 'keep-alive',
        // nginx buffers proxied responses unless told not to; that would hold events back.
        'x-accel-buffering': 'no',
      },
    })
  })

  app.get('/poll', async (c) => {
    admit('poll')
    const since = resumeId(c.req.query('since'), c.req.header('last-event-id'))
    const topics = parseTopics(c.req.query('topics'))
    const conn = hub.open(since, topics)
    const withSnapshot = since === null || c.req.query('snapshot') === '1' || isReset(conn.snapshot)
    const first = withSnapshot ? [conn.snapshot, ...conn.replay] : conn.replay
    if (first.length > 0) return pollResponse(first)
    const frames = await waitForFrames(hub, topics, config.LIVE_POLL_TIMEOUT_MS, c.req.raw.signal)
    return pollResponse(frames)
  })

  return app
}

function isReset(f: Frame): boolean {
  return (f.event.data as { reset?: boolean }).reset === true
}

/** The frames' shared JSON strings joined: no re-serialization per poller. */
function pollResponse(frames: Frame[]): Response {
  const body = `{"events":[${frames.map((f) => f.json).join(',')}]}`
  return new Response(body, {
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  })
}

/** Holds a poll until an event arrives (plus the rest of that turn's events) or the timeout. */
function waitForFrames(hub: Hub, topics: Topics, timeoutMs: number, signal: AbortSignal): Promise<Frame[]> {
  return new Promise((resolve) => {
    const frames: Frame[] = []
    let done = false
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      hub.disconnect(client)
      signal.removeEventListener('abort', finish)
      resolve(frames)
    }
    const client: LiveClient = {
      topics,
      send(f) {
        frames.push(f)
        if (frames.length === 1) setImmediate(finish)
      },
      close: finish,
    }
    const timer = setTimeout(finish, timeoutMs)
    signal.addEventListener('abort', finish)
    hub.subscribe(client)
  })
}
