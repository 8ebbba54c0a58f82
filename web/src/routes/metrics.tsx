import { For, Match, Show, Switch, createMemo, createResource } from 'solid-js'
import { ScaleChart } from '../components/chart.tsx'
import { PagedGrid } from '../components/paged-grid.tsx'
import { api } from '../lib/api.ts'
import { useLive } from '../lib/live.ts'
import { METRIC_HISTORY, type MetricLive } from '../live/metrics.ts'
import { metricLevel } from '../lib/metric-level.ts'
import { createLatest } from '../lib/resource.ts'
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
              Push one:{' '}
              <code>{`curl -H 'Authorization: Bearer …' -d '{"name":"deploys_today","value":3}' ${location.origin}/api/metrics`}</code>
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

/** The last hour of one metric from the API, merged with what arrived live (by time). */
function useHistory(m: () => MetricLive) {
  const [past] = createResource(() => m().name, api.metricHour)
  const fetched = createLatest(past)
  return createMemo(() => {
    const seen = new Set<number>()
    const hour = (fetched()?.points ?? []).map((p) => ({ t: Date.parse(p.at), v: p.value }))
    return [...hour.filter((p) => Number.isFinite(p.t)), ...m().history]
      .filter((p) => !seen.has(p.t) && seen.add(p.t))
      .sort((a, b) => a.t - b.t)
      .slice(-METRIC_HISTORY * 4)
  })
}

function MetricTile(props: { m: MetricLive; now: number }) {
  const at = () => parseTime(props.m.at)
  const tags = () => Object.entries(props.m.tags ?? {})
  const points = useHistory(() => props.m)
  const level = () => metricLevel(props.m.value, props.m.warn, props.m.crit)
  const unit = () => (props.m.unit ? ` ${props.m.unit}` : '')
  const thresholds = () =>
    [
      props.m.warn != null ? `warn ${formatNumber(props.m.warn)}` : '',
      props.m.crit != null ? `critical ${formatNumber(props.m.crit)}` : '',
    ]
      .filter(Boolean)
      .join(' · ')
  return (
    <div
      class="metric"
      data-testid="metric"
      data-level={level() ?? undefined}
      role="group"
      aria-label={`${props.m.name}: ${formatNumber(props.m.value)}${unit()}${level() ? `, ${LEVEL_WORD[level()!]}` : ''}`}
    >
      <div class="m-name">{props.m.name}</div>
      <Show when={tags().length}>
        <div class="m-tags">
          <For each={tags()}>{([k, v]) => <span>{`${k}=${v}`}</span>}</For>
        </div>
      </Show>
      <div class="m-value" data-testid="metric-value">
        <Show when={level() && level() !== 'ok'}>
          <span class="m-icon" aria-hidden="true">
            {level() === 'crit' ? '■ ' : '▲ '}
          </span>
        </Show>
        {formatNumber(props.m.value)}
        <Show when={props.m.unit}>
          <span class="m-unit"> {props.m.unit}</span>
        </Show>
      </div>
      <Show when={points().length > 1}>
        <ScaleChart
          points={points()}
          warn={props.m.warn}
          crit={props.m.crit}
          format={formatNumber}
          label={`${props.m.name}, the last hour: from ${formatNumber(Math.min(...points().map((p) => p.v)))} to ${formatNumber(Math.max(...points().map((p) => p.v)))}${unit()}`}
        />
      </Show>
      <div class="m-age muted">
        <span>{at() !== null ? `updated ${ago(props.now - at()!)}` : ''}</span>
        <Show when={thresholds()}>
          <span class="m-th">{thresholds()}</span>
        </Show>
      </div>
    </div>
  )
}

const LEVEL_WORD = {
  ok: 'within thresholds',
  warn: 'past its warning threshold',
  crit: 'past its critical threshold',
} as const
