/**
 * @module `createLive()`: owns the live connection and exposes its status and the recent events as
 * Solid signals. Views read from it; nothing else talks to the server's stream.
 */
import { createSignal, onCleanup } from 'solid-js'
import { LiveConnection, type ConnectionStatus, type Transport, type WireEvent } from './connection.ts'

export interface LiveOptions {
  transports?: Transport[]
  topics?: string[]
  /** How many recent events to keep in memory (bounded: a TV runs for weeks). */
  keep?: number
  onEvent?(ev: WireEvent, replayed: boolean): void
}

export function createLive(opts: LiveOptions = {}) {
  const keep = opts.keep ?? 200
  const [status, setStatus] = createSignal<ConnectionStatus | null>(null)
  const [events, setEvents] = createSignal<WireEvent[]>([])
  const [version, setVersion] = createSignal<string | null>(null)

  const conn = new LiveConnection({
    base: location.origin + '/',
    transports: opts.transports,
    topics: opts.topics,
    onStatus: (s) => setStatus({ ...s }),
    onEvent(ev, replayed) {
      if (ev.type === 'snapshot') {
        const v = ev.data.version as string
        const known = version()
        // A new server version: reload once to pick up the matching page.
        if (known && known !== v) location.reload()
        setVersion(v)
      } else {
        setEvents((list) => [ev, ...list].slice(0, keep))
      }
      opts.onEvent?.(ev, replayed)
    },
  })
  conn.start()
  onCleanup(() => conn.stop())
  return { status, events, version }
}

export function transportsFromUrl(): Transport[] | undefined {
  const p = new URLSearchParams(location.search).get('transport')
  if (!p) return undefined
  const list = p.split(',').filter((t): t is Transport => t === 'ws' || t === 'sse' || t === 'poll')
  return list.length ? list : undefined
}
