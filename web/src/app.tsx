/**
 * @module The app root: the live store and display options provided to every view, the chrome
 * (laptop header or TV strip), the routes (lazy except the board), rotation, toasts, keys,
 * and on a TV the slow pixel shift against burn-in.
 */
import { Show, Suspense, createEffect, createMemo, createSignal, lazy, onCleanup } from 'solid-js'
import { createAlerts } from './lib/alerts.ts'
import { LiveContext, createLive, transportsFromUrl, useLive } from './lib/live.ts'
import { createPrefs } from './lib/prefs.ts'
import { optionProblems } from './lib/options.ts'
import { Router, search, useLocation, type RouteDef } from './lib/router.tsx'
import { counts as countTiles, inScope, type BoardCounts } from './lib/status.ts'
import { createTabSummary } from './lib/summary.ts'
import { createNow } from './lib/time.ts'
import { ViewContext, useView, type PageInfo, type ViewCtx } from './lib/view.ts'
import { Header, TvHeader } from './components/chrome.tsx'
import { StaleBanner } from './components/connection-badge.tsx'
import { Rotation } from './components/rotation.tsx'
import { Toasts } from './components/toasts.tsx'
import { NotFoundView } from './components/not-found.tsx'
import Board, { filterOf, useShownTiles } from './routes/board.tsx'

const Pipeline = lazy(() => import('./routes/pipeline.tsx'))
const Sites = lazy(() => import('./routes/sites.tsx'))
const Site = lazy(() => import('./routes/site.tsx'))
const Metrics = lazy(() => import('./routes/metrics.tsx'))

const ROUTES: RouteDef[] = [
  { path: '/', component: Board },
  { path: '/tv', component: Board },
  { path: '/pipelines/:id', component: Pipeline },
  { path: '/sites', component: Sites },
  { path: '/sites/:site', component: Site },
  { path: '/custom-metrics', component: Metrics },
]

/** Offsets (in 0.1 vw) visited one by one against burn-in: small enough that nobody notices. */
const SHIFTS: [number, number][] = [
  [0, 0],
  [1, 0],
  [1, 1],
  [0, 1],
  [-1, 1],
  [-1, 0],
  [-1, -1],
  [0, -1],
  [1, -1],
]
const SHIFT_EVERY_MS = 120_000

function NotFound() {
  return (
    <NotFoundView
      what="No such page"
      hint="Views: /, /tv, /pipelines/<id>, /sites, /sites/<domain>, /custom-metrics."
      back={{ href: '/', label: 'Go to the builds board' }}
    />
  )
}

export function App() {
  const live = createLive({ transports: transportsFromUrl() })
  const prefs = createPrefs()
  const alerts = createAlerts({ quiet: prefs.quiet, soundParam: prefs.soundParam, tv: prefs.tv })
  const [paging, setPaging] = createSignal<PageInfo | null>(null)
  const [caption, setCaption] = createSignal<string | null>(null)
  const now = createNow(live.offset)
  // Ages and running timers stop where the data stops: a stale screen does not pretend to know.
  const frozenNow = () => {
    const since = live.status()?.staleSince
    return since != null ? since + live.offset() : now()
  }
  const view: ViewCtx = { now, frozenNow, prefs, alerts, paging, setPaging, caption, setCaption }
  // A screen announces only what it shows: builds of other projects, branches or providers stay quiet.
  live.onFinished((e, news) => news && inScope(e.pipeline, filterOf(search())) && alerts.announce(e))

  return (
    <LiveContext.Provider value={live}>
      <ViewContext.Provider value={view}>
        <Shell />
      </ViewContext.Provider>
    </LiveContext.Provider>
  )
}

function Shell() {
  const live = useLive()
  const { prefs, alerts } = useView()
  const loc = useLocation()
  const tv = prefs.tv

  // Counted with the URL's filters, so a TV showing one project summarises that project.
  const view = useView()
  const tiles = useShownTiles(view.frozenNow)
  const counts = createMemo<BoardCounts | null>(() => (tiles() ? countTiles(tiles()!, view.frozenNow()) : null))
  const problems = createMemo(() => optionProblems(search()))
  const viewName = () => {
    const p = loc().pathname
    return p.startsWith('/pipelines/')
      ? 'pipeline'
      : p.startsWith('/sites')
        ? 'sites'
        : p.startsWith('/custom-metrics')
          ? 'metrics'
          : ''
  }
  createTabSummary({ counts, stale: live.stale, view: viewName })

  createEffect(() => {
    const d = document.documentElement
    d.dataset.theme = prefs.theme()
    d.dataset.motion = prefs.motion() ? 'on' : 'off'
    if (tv()) d.dataset.tv = ''
    else delete d.dataset.tv
  })

  const [shift, setShift] = createSignal(0)
  createEffect(() => {
    if (!tv()) return setShift(0)
    const t = setInterval(() => setShift((i) => (i + 1) % SHIFTS.length), SHIFT_EVERY_MS)
    onCleanup(() => clearInterval(t))
  })

  // A key pressed at a TV has no button to show its effect: say it on screen for a moment.
  const [flash, setFlash] = createSignal<string | null>(null)
  let flashTimer: ReturnType<typeof setTimeout> | undefined
  const say = (text: string) => {
    setFlash(text)
    clearTimeout(flashTimer)
    flashTimer = setTimeout(() => setFlash(null), 2500)
  }
  onCleanup(() => clearTimeout(flashTimer))

  const onKey = (e: KeyboardEvent) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return
    const el = e.target as HTMLElement | null
    if (el && (el.tagName === 'INPUT' || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA' || el.isContentEditable))
      return
    if (e.key === 'm') {
      alerts.toggleSound()
      say(alerts.soundOn() ? '🔔 Sound on (m to mute)' : '🔕 Sound muted (m to unmute)')
    } else if (e.key === 'f') {
      if (document.fullscreenElement) void document.exitFullscreen().catch(() => {})
      else void document.documentElement.requestFullscreen?.().catch(() => {})
    }
  }
  addEventListener('keydown', onKey)
  onCleanup(() => removeEventListener('keydown', onKey))

  // Lazy views load while idle, so a TV that later loses the server still has every view it rotates to.
  const idle = setTimeout(() => {
    for (const c of [Pipeline, Sites, Site, Metrics]) void c.preload().catch(() => {})
  }, 2000)
  onCleanup(() => clearTimeout(idle))

  return (
    <div class="app" classList={{ tv: tv() }} data-stale={live.stale() ? '' : undefined}>
      <Show when={!tv()}>
        <StaleBanner status={live.status()} now={view.now()} />
      </Show>
      <div class="frame" style={tv() ? { '--sx': SHIFTS[shift()]![0], '--sy': SHIFTS[shift()]![1] } : undefined}>
        <Show when={tv()} fallback={<Header counts={counts()} />}>
          <TvHeader counts={counts()} />
          <StaleBanner status={live.status()} now={view.now()} />
        </Show>
        <Show when={problems().length}>
          <p class="url-note" role="alert" data-testid="url-note">
            <span aria-hidden="true">⚠ </span>
            {problems().join(' · ')}
          </p>
        </Show>
        <main id="main" tabIndex={-1}>
          <Suspense fallback={<p class="empty">Loading…</p>}>
            <Show when={tv() && prefs.rotate().length} fallback={<Router routes={ROUTES} fallback={NotFound} />}>
              <Rotation
                views={prefs.rotate()}
                every={prefs.every()}
                render={{ builds: Board, sites: Sites, metrics: Metrics, site: Site }}
              />
            </Show>
          </Suspense>
        </main>
      </div>
      <Show when={!tv()}>
        <Toasts toasts={alerts.toasts()} dismiss={alerts.dismiss} tv={false} />
      </Show>
      <Show when={flash()}>
        <div class="flash" role="status" data-testid="flash">
          {flash()}
        </div>
      </Show>
    </div>
  )
}
