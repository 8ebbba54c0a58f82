import { For, Match, Show, Switch, createMemo } from 'solid-js'
import { TimeChart } from '../components/chart.tsx'
import { PagedGrid } from '../components/paged-grid.tsx'
import { useLive, type MetricLive } from '../lib/live.ts'
import { ago, parseTime } from '../lib/time.ts'
import { useView } from '../lib/view.ts'

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return '—'
  const a = Math.abs(v)
  if (a >= 1e9) return `${(v / 1e9).toFixed(1)}G`
  if (a >= 1e6) return `${(v / 1e6).toFixed(1)}M`
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`
  if (Number.isInteger(v)) return String(v)
  return v.toFixed(a < 1 ? 3 : a < 100 ? 2 : 1).replace(/\.?0+$/, '')
}

export default function Metrics() {
  const live = useLive()
  const view = useView()
  const metrics = createMemo(() => {
    const map = live.state.metrics
    if (!map) return null
    return Object.values(map)
      .filter((m): m is MetricLive => !!m)
      .sort((a, b) => a.key.localeCompare(b.key))
  })
  return (
    <section class="metrics" aria-label="Custom metrics">
      <Switch>
        <Match when={!live.version()}>
          <p class="empty">Connecting…</p>
        </Match>
        <Match when={!metrics()?.length}>
          <div class="empty" data-testid="empty">
            <p>No custom metrics yet.</p>
            <p class="muted">
              Push one: <code>{`curl -H 'Authorization: Bearer …' -d '{"name":"deploys_today","value":3}' ${location.origin}/api/metrics`}</code>
            </p>
          </div>
        </Match>
        <Match when={true}>
          <PagedGrid items={metrics()!} class="metric-grid" maxCells={12} label="Metrics">
            {(m) => <MetricTile m={m} now={view.now()} />}
          </PagedGrid>
        </Match>
      </Switch>
    </section>
  )
}

function MetricTile(props: { m: MetricLive; now: number }) {
  const at = () => parseTime(props.m.at)
  const tags = () => Object.entries(props.m.tags ?? {})
  const points = () => {
    const h = props.m.history
    return h.map((v, i) => ({ t: i, v }))
  }
  return (
    <div
      class="metric"
      data-testid="metric"
      role="group"
      aria-label={`${props.m.name}: ${formatNumber(props.m.value)}${props.m.unit ? ` ${props.m.unit}` : ''}`}
    >
      <div class="m-name">{props.m.name}</div>
      <Show when={tags().length}>
        <div class="m-tags">
          <For each={tags()}>{([k, v]) => <span>{`${k}=${v}`}</span>}</For>
        </div>
      </Show>
      <div class="m-value">
        {formatNumber(props.m.value)}
        <Show when={props.m.unit}>
          <span class="m-unit"> {props.m.unit}</span>
        </Show>
      </div>
      <Show when={points().length > 1}>
        <TimeChart series={[points()]} from={0} to={Math.max(1, points().length - 1)} height="2.6em" axis={false} label={`${props.m.name}, recent values`} />
      </Show>
      <div class="m-age muted">{at() !== null ? `updated ${ago(props.now - at()!)}` : ''}</div>
    </div>
  )
}
