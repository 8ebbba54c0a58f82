import { Show } from 'solid-js'
import type { ConnectionStatus } from '../lib/connection.ts'

function hhmm(ms: number): string {
  const d = new Date(ms)
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
}

/** Always says the truth about the data on screen: live, reconnecting, or stale since when. */
export function ConnectionBadge(props: { status: ConnectionStatus | null }) {
  const label = () => {
    const s = props.status
    if (!s || s.state === 'connecting') return 'connecting…'
    if (s.state === 'live') return `live (${s.transport})`
    return `reconnecting (attempt ${s.attempt})`
  }
  return (
    <div class="conn">
      <span class="badge" data-state={props.status?.state ?? 'connecting'} data-testid="connection">
        {label()}
      </span>
      <Show when={props.status?.staleSince}>
        {(since) => (
          <div class="stale-banner" role="alert" data-testid="stale-banner">
            Stale since {hhmm(since())} — not receiving updates
          </div>
        )}
      </Show>
    </div>
  )
}
