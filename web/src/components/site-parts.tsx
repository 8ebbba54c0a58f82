import { For, Show } from 'solid-js'
import type { Rating, SiteSummary, VitalName, VitalSummary } from '../types.ts'
import { VITAL_NAMES as VITALS } from '../../../contract/vocabularies.ts'
import { A } from '../lib/router.tsx'
import { sourceLabel, type Deploy, type DeploySource } from '../live/deploys.ts'
import type { SiteLive } from '../live/sites.ts'
import { TimeChart, type Marker } from './chart.tsx'
import { ago } from '../lib/time.ts'

export function formatVital(name: VitalName, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—'
  if (name === 'CLS') return v.toFixed(v < 1 ? 2 : 1)
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(v < 10_000 ? 1 : 0)} s`
}

const RATING_WORD: Record<Rating, string> = { good: 'good', 'needs-improvement': 'needs improvement', poor: 'poor' }
const RATING_ICON: Record<Rating, string> = { good: '●', 'needs-improvement': '▲', poor: '■' }

export function ratingWord(r: Rating | null | undefined): string {
  return r ? RATING_WORD[r] : 'no data'
}

/** Shares as fractions summing to 1 (accepts fractions or percentages). */
export function normShares(s: VitalSummary['shares'] | undefined): { good: number; ni: number; poor: number } {
  const g = Math.max(0, s?.good ?? 0)
  const n = Math.max(0, s?.ni ?? 0)
  const p = Math.max(0, s?.poor ?? 0)
  const sum = g + n + p
  return sum > 0 ? { good: g / sum, ni: n / sum, poor: p / sum } : { good: 0, ni: 0, poor: 0 }
}

const pct = (f: number) => `${Math.round(f * 100)}%`

export function ShareBar(props: { shares: VitalSummary['shares'] | undefined; label: string }) {
  const s = () => normShares(props.shares)
  return (
    <div
      class="share"
      role="img"
      aria-label={`${props.label}: ${pct(s().good)} good, ${pct(s().ni)} needs improvement, ${pct(s().poor)} poor`}
    >
      <span data-r="good" style={{ width: pct(s().good) }} />
      <span data-r="needs-improvement" style={{ width: pct(s().ni) }} />
      <span data-r="poor" style={{ width: pct(s().poor) }} />
    </div>
  )
}

/** Where a vital's p75 chart sits in time, and the deploys to mark on it. */
export interface TrendFrame {
  summary: SiteSummary | null | undefined
  to: number
  markers: Marker[]
}

/** One vital's p75 per period of the summary's window (gaps where a period had no samples). */
export function trendPoints(s: SiteSummary | null | undefined, name: VitalName) {
  return (s?.trend ?? [])
    .map((p) => ({ t: Date.parse(p.t), v: p[name] }))
    .filter((p): p is { t: number; v: number } => p.v !== null && p.v !== undefined && Number.isFinite(p.t))
}

export function VitalCard(props: { name: VitalName; v: VitalSummary | undefined; trend?: TrendFrame }) {
  const r = () => props.v?.rating ?? null
  return (
    <div class="vital" data-rating={r() ?? 'none'} data-testid={`vital-${props.name}`}>
      <div class="v-name">
        {props.name} <span class="muted">p75</span>
      </div>
      <div class="v-value">{formatVital(props.name, props.v?.p75)}</div>
      <div class="v-rating">
        <span aria-hidden="true">{r() ? RATING_ICON[r()!] : '○'}</span> {ratingWord(r())}
      </div>
      <ShareBar shares={props.v?.shares} label={`${props.name} shares`} />
      <Show when={props.trend?.summary}>
        {(summary) => (
          <div class="v-trend" data-testid={`vital-trend-${props.name}`}>
            <TimeChart
              series={[trendPoints(summary(), props.name)]}
              from={Date.parse(summary().from)}
              to={props.trend!.to}
              markers={props.trend!.markers}
              height="3.4em"
              axis={false}
              label={`${props.name} p75 over the last ${summary().window}, with deploys`}
            />
          </div>
        )}
      </Show>
      <div class="v-foot muted">
        <span>{props.v?.samples ?? 0} samples</span>
        <span>
          p50 {formatVital(props.name, props.v?.p50)} · p95 {formatVital(props.name, props.v?.p95)}
        </span>
      </div>
    </div>
  )
}

export function Vitals(props: { summary: SiteSummary | null | undefined; compact?: boolean; trend?: TrendFrame }) {
  return (
    <Show
      when={props.compact}
      fallback={
        <div class="vitals">
          <For each={VITALS}>{(n) => <VitalCard name={n} v={props.summary?.vitals?.[n]} trend={props.trend} />}</For>
        </div>
      }
    >
      <div class="vitals-compact">
        <For each={VITALS}>
          {(n) => {
            const v = () => props.summary?.vitals?.[n]
            const r = () => v()?.rating ?? null
            return (
              <div class="vc" data-rating={r() ?? 'none'}>
                <span class="vc-name">{n}</span>
                <span class="vc-value">{formatVital(n, v()?.p75)}</span>
                <span class="vc-rating">
                  <span aria-hidden="true">{r() ? RATING_ICON[r()!] : '○'}</span> {ratingWord(r())}
                </span>
              </div>
            )
          }}
        </For>
      </div>
    </Show>
  )
}

export function seriesPoints(s: SiteSummary | null | undefined, field: 'visitors' | 'pageviews') {
  return (s?.series ?? [])
    .map((p) => ({ t: Date.parse(p.t), v: Number(p[field]) || 0 }))
    .filter((p) => Number.isFinite(p.t))
}

export function deployMarkers(deploys: readonly Deploy[]): Marker[] {
  return deploys.map((d) => ({
    t: d.at,
    kind: 'success',
    label: `deploy: ${d.project} ${d.pipeline} ${d.branch}${d.number != null ? ` #${d.number}` : ''}`,
  }))
}

/** What the deploy markers are, or, discreetly, that there are none because nothing is mapped. */
export function DeploysNote(props: { sources: readonly DeploySource[] | null | undefined; class?: string }) {
  return (
    <Show
      when={props.sources?.length}
      fallback={
        <span class={`deploys-note muted ${props.class ?? ''}`} data-testid="deploys-unmapped">
          deploys: set SITE_DEPLOYS
        </span>
      }
    >
      <span class={`deploys-note l-dep ${props.class ?? ''}`} data-testid="deploys-mapped">
        ▼ deploy: {props.sources!.map(sourceLabel).join(', ')}
      </span>
    </Show>
  )
}

export function SiteCard(props: { site: SiteLive; now: number; deploys: readonly Deploy[]; tv?: boolean }) {
  return (
    <A
      class="site-card"
      href={`/sites/${encodeURIComponent(props.site.site)}${props.tv ? '?tv' : ''}`}
      data-testid="site-card"
      aria-label={`${props.site.site}: ${props.site.live} live visitors, ${props.site.last5m} in the last 5 minutes`}
    >
      <div class="sc-name">{props.site.site}</div>
      <div class="sc-figures">
        <span class="sc-live">{props.site.live}</span>
        <span class="sc-label">live</span>
        <span class="sc-5m">{props.site.last5m}</span>
        <span class="sc-label">last 5 min</span>
        <Show when={props.site.summary}>
          <span class="sc-5m">{props.site.summary!.pageviews}</span>
          <span class="sc-label">views 24h</span>
        </Show>
      </div>
      <TimeChart
        series={[seriesPoints(props.site.summary, 'visitors')]}
        from={props.now - 3_600_000}
        to={props.now}
        markers={deployMarkers(props.deploys)}
        height="3.6em"
        axis={false}
        label={`${props.site.site}: visitors per minute, last 60 minutes`}
      />
      <Vitals summary={props.site.summary} compact />
      <div class="sc-age muted">
        <span>updated {ago(props.now - props.site.at)}</span>
        <DeploysNote sources={props.site.deploys} />
      </div>
    </A>
  )
}
