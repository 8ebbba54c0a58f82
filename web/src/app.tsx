import { For, Show } from 'solid-js'
import { createLive, transportsFromUrl } from './lib/live.ts'
import { ConnectionBadge } from './components/connection-badge.tsx'

export function App() {
  const live = createLive({ transports: transportsFromUrl() })
  return (
    <main class="shell">
      <header class="topbar">
        <h1>Radiator</h1>
        <ConnectionBadge status={live.status()} />
      </header>
      <section class="events" aria-live="polite">
        <Show when={live.events().length > 0} fallback={<p class="muted">Waiting for events…</p>}>
          <ol>
            <For each={live.events()}>
              {(ev) => (
                <li>
                  <span class="id">#{ev.id}</span> <span class="type">{ev.type}</span>{' '}
                  <time>{new Date(ev.at).toLocaleTimeString()}</time>
                </li>
              )}
            </For>
          </ol>
        </Show>
      </section>
    </main>
  )
}
