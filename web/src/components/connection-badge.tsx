import { Show } from 'solid-js'
import type { ConnectionStatus } from '../lib/connection.ts'
import { clock, span } from '../lib/time.ts'

const TRANSPORT: Record<string, string> = { ws: 'WebSocket', sse: 'SSE', poll: 'long polling' }

/** Always says the truth about the data on screen: live, reconnecting (attempt n), or connecting. */
export function ConnectionBadge(props: { status: ConnectionStatus | null }) {
  const state = () => props.status?.state ?? 'connecting'
  const label = () => {
    const s = props.status
    if (!s || s.state === 'connecting') return 'connecting…'
    if (s.state === 'live') return 'live'
    return `reconnecting (attempt ${s.attempt})`
  }
  return (
    <span
      class="badge"
      data-state={state()}
      data-transport={props.status?.transport ?? ''}
      data-testid="connection"
      role="status"
      title={props.status?.transport ? `via ${TRANSPORT[props.status.transport]}` : undefined}
    >
      <span class="dot" aria-hidden="true" />
      {label()}
    </span>
  )
}

/** "Stale for 2 days, since Fri 17:42": how long, and a moment that is unambiguous after a weekend. */
export function staleText(since: number, now: number): string {
  return `Stale for ${span(now - since)}, since ${clock(since, now)}`
}

/**
 * Shown once the screen is no longer known to be current: data may be old, for how long and since
 * when. It takes its own line (never over the clock or the counts).
 */
export function StaleBanner(props: { status: ConnectionStatus | null; now: number }) {
  return (
    <Show when={props.status?.staleSince}>
      {(since) => (
        <div class="stale-banner" role="alert" data-testid="stale-banner">
          <strong>{staleText(since(), props.now)}</strong>{' '}
          <span>
            {`— not receiving updates${props.status?.state === 'reconnecting' ? `, reconnecting (attempt ${props.status.attempt})` : ''}`}
          </span>
        </div>
      )}
    </Show>
  )
}
