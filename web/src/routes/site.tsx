import { For, Show, createEffect, createResource, on, onCleanup } from 'solid-js'
import type { Device, SiteSummary } from '../types.ts'
import { TimeChart } from '../components/chart.tsx'
import { DeploysNote, Vitals, deployMarkers, seriesPoints } from '../components/site-parts.tsx'
import { NotFoundView } from '../components/not-found.tsx'
import { ApiError, api } from '../lib/api.ts'
import { useLive } from '../lib/live.ts'
import { createLatest, errorText } from '../lib/resource.ts'
import { A, search, setSearch } from '../lib/router.tsx'
import { useView } from '../lib/view.ts'
import { LIVE_WINDOW, WINDOWS } from '../../../contract/vocabularies.ts'

/** The device switch as it reads, all devices first (the contract's DEVICES, in this order). */
const DEVICES = [
  ['', 'all devices'],
  ['mobile', 'mobile'],
  ['desktop', 'desktop'],
  ['tablet', 'tablet'],
] as const satisfies readonly (readonly ['' | Device, string])[]
/** A site page re-reads its summary at most this often when live `vitals` say it changed. */
const REFETCH_MIN_MS = 10_000

export default function SitePage(props: { params: Record<string, string> }) {
  const live = useLive()
  const view = useView()
  const site = () => props.params.site!
  const win = () =>
    (WINDOWS as readonly string[]).includes(search().get('window') ?? '') ? search().get('window')! : LIVE_WINDOW
  // An unknown ?device= is reported by the URL note (app shell) and otherwise ignored.
  const device = () => {
    const d = search().get('device') ?? ''
    return DEVICES.some(([v]) => v === d) ? d : ''
  }
  const liveRow = () => live.state.sites?.[site()]
  // The live `vitals` event is the 24 h, all-device summary: other selections come from the API.
  const usesLive = () => win() === LIVE_WINDOW && !device() && !!liveRow()?.summary
  const selection = () => `${win()} ${device()}`
  let lastFetch = 0
  const [fetched, { refetch }] = createResource(
    () => !usesLive() && selection(),
    async (key) => {
      lastFetch = Date.now()
      return { key, summary: await api.siteSummary(site(), { window: win(), device: device() || null }) }
    }
  )
  const fetchedShown = createLatest(fetched)
  const summary = (): SiteSummary | null => {
    if (usesLive()) return liveRow()!.summary
    const f = fetchedShown()
    // Another selection's summary is not this one's: nothing until it arrives.
    return f?.key === selection() ? f.summary : null
  }
  /** The server does not collect for this domain (not in SITES). */
  const unknown = () => fetched.error instanceof ApiError && fetched.error.status === 404
  const error = () => (fetched.error && !unknown() ? errorText(fetched.error) : null)

  let pending: ReturnType<typeof setTimeout> | undefined
  onCleanup(() => clearTimeout(pending))
  const refetchSoon = () => {
    if (pending) return
    const wait = Math.max(0, lastFetch + REFETCH_MIN_MS - Date.now())
    pending = setTimeout(() => {
      pending = undefined
      void refetch()
    }, wait)
  }
  createEffect(
    on(
      () => liveRow()?.summaryAt,
      () => !usesLive() && refetchSoon(),
      { defer: true }
    )
  )
  const periodic = setInterval(() => !usesLive() && refetchSoon(), 60_000)
  onCleanup(() => clearInterval(periodic))

  const sources = () => liveRow()?.deploys ?? null
  const deploys = () => live.deploysOf(site())
  const figures = () => ({
    live: liveRow()?.live ?? summary()?.visitors?.live ?? 0,
    last5m: liveRow()?.last5m ?? summary()?.visitors?.last5m ?? 0,
  })

  return (
    <Show
      when={!unknown()}
      fallback={
        <NotFoundView
          what={`No site “${site()}”`}
          hint={
            <>
              Radiator does not collect visits for this domain. Sites it knows:{' '}
              {Object.keys(live.state.sites ?? {})
                .sort()
                .join(', ') || 'none (set SITES on the server)'}
              .
            </>
          }
          back={{ href: '/sites', label: '← All sites' }}
        />
      }
    >
      <section class="site" aria-label={`Site ${site()}`}>
        <Show when={!view.prefs.tv()}>
          <p class="crumbs">
            <A href="/sites">← Sites</A>
          </p>
        </Show>
        <h1 class="page-title">{site()}</h1>
        <Show when={!view.prefs.tv()}>
          <div class="switches">
            <div class="seg" role="group" aria-label="Time window">
              <For each={WINDOWS}>
                {(w) => (
                  <button
                    type="button"
                    aria-pressed={win() === w}
                    onClick={() => setSearch({ window: w === LIVE_WINDOW ? null : w })}
                  >
                    {w}
                  </button>
                )}
              </For>
            </div>
            <div class="seg" role="group" aria-label="Device">
              <For each={DEVICES}>
                {([d, label]) => (
                  <button type="button" aria-pressed={device() === d} onClick={() => setSearch({ device: d || null })}>
                    {label}
                  </button>
                )}
              </For>
            </div>
          </div>
        </Show>
        <div class="figures">
          <div class="fig fig-live" data-testid="site-live">
            <span class="fig-n">{figures().live}</span>
            <span class="fig-l">live now</span>
          </div>
          <div class="fig">
            <span class="fig-n">{figures().last5m}</span>
            <span class="fig-l">visitors, last 5 min</span>
          </div>
          <div class="fig">
            <span class="fig-n">{summary()?.pageviews ?? '—'}</span>
            <span class="fig-l">page views, {win()}</span>
          </div>
        </div>
        <Show when={error()}>
          <p class="error" role="alert">
            Could not load the summary: {error()}
          </p>
        </Show>
        <div class="chart-box">
          <div class="legend" aria-hidden="true">
            <span class="l-vis">visitors / min</span> <span class="l-pv">page views / min</span>{' '}
            <DeploysNote sources={sources()} />
          </div>
          <TimeChart
            series={[seriesPoints(summary(), 'visitors'), seriesPoints(summary(), 'pageviews')]}
            from={view.now() - 3_600_000}
            to={view.now()}
            markers={deployMarkers(deploys())}
            label={`${site()}: visitors and page views per minute over the last 60 minutes${sources()?.length ? ', with deploys' : ''}`}
          />
        </div>
        <h2>Web Vitals at p75 {device() ? `(${device()})` : ''}</h2>
        <Vitals summary={summary()} trend={{ summary: summary(), to: view.now(), markers: deployMarkers(deploys()) }} />
        <Show when={!view.prefs.tv()}>
          <div class="top-pages">
            <TopList
              title="Top pages by views"
              rows={(summary()?.topPages?.byViews ?? []).map((r) => [r.path, `${r.views}`])}
            />
            <TopList
              title="Slowest LCP (p75)"
              rows={(summary()?.topPages?.byLcp ?? []).map((r) => [
                r.path,
                `${(r.p75 / 1000).toFixed(1)} s · ${r.samples}`,
              ])}
            />
            <TopList
              title="Slowest INP (p75)"
              rows={(summary()?.topPages?.byInp ?? []).map((r) => [r.path, `${Math.round(r.p75)} ms · ${r.samples}`])}
            />
          </div>
        </Show>
      </section>
    </Show>
  )
}

function TopList(props: { title: string; rows: [string, string][] }) {
  return (
    <div class="top-list">
      <h3>{props.title}</h3>
      <Show when={props.rows.length} fallback={<p class="muted">No data in this window.</p>}>
        <ol>
          <For each={props.rows.slice(0, 10)}>
            {([path, v]) => (
              <li>
                <span class="path" title={path}>
                  {path}
                </span>
                <span class="n">{v}</span>
              </li>
            )}
          </For>
        </ol>
      </Show>
    </div>
  )
}
