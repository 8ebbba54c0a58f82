/**
 * @module The site snippet: `<script defer src=".../beacon.js" data-site="shop.example.com">`.
 * Page views (load, SPA navigation, back/forward-cache restore), a heartbeat every 30 s while the
 * tab is visible, a `leave` when it is hidden, and Core Web Vitals flushed on hidden. No cookies,
 * no storage; every entry point is wrapped so nothing ever throws into the host page.
 */
import { onCLS, onFCP, onINP, onLCP, onTTFB, type Metric } from 'web-vitals'
import type { BeaconEvent } from '../../contract/metrics.ts'

const HEARTBEAT_MS = 30_000

/** Runs `f`, swallowing anything it throws: the host page must never see our errors. */
const safe =
  <A extends unknown[]>(f: (...a: A) => void) =>
  (...a: A) => {
    try {
      f(...a)
    } catch {}
  }

safe(() => {
  const script = document.currentScript as HTMLScriptElement
  const site = script.getAttribute('data-site') || location.hostname
  const api = script.getAttribute('data-api') || new URL('/api/collect', script.src).href
  // Latest report per metric id: web-vitals may report CLS and INP again (after a later hide) and
  // only the last value counts; the server replaces those two by id. Cleared on every flush.
  const vitals = new Map<string, BeaconEvent>()
  let path = location.pathname
  // Vitals belong to the document's hard navigation (or bfcache restore), not to SPA routes.
  let docPath = path
  let timer: ReturnType<typeof setInterval> | undefined
  let left = false

  const send = (events: BeaconEvent[]) => {
    // text/plain (sendBeacon's type for a string) is a CORS-safelisted type: no preflight.
    const body = JSON.stringify({ site, width: innerWidth, events })
    if (!navigator.sendBeacon?.(api, body))
      fetch(api, { method: 'POST', body, keepalive: true, credentials: 'omit' }).catch(() => {})
  }

  const view = () => send([{ type: 'pageview', path: (path = location.pathname) }])
  const beat = safe(() => send([{ type: 'heartbeat', path }]))
  const visible = () => {
    left = false
    clearInterval(timer)
    timer = setInterval(beat, HEARTBEAT_MS)
  }

  // Runs on visibilitychange → hidden and on pagehide, whichever comes first (closing a tab fires
  // pagehide before visibilitychange). Registered after web-vitals' own capture-phase listeners,
  // so what it finalizes on hidden is already in `vitals`; what it finalizes later goes out with
  // the second of the two events. The leave is sent once.
  const hide = safe(() => {
    clearInterval(timer)
    const events = [...vitals.values()]
    vitals.clear()
    if (!left) events.push({ type: 'leave', path })
    left = true
    if (events.length) send(events)
  })

  const record = safe((m: Metric) => {
    vitals.set(m.id, { type: 'vital', path: docPath, name: m.name, value: m.value, id: m.id, nav: m.navigationType })
  })
  for (const on of [onCLS, onFCP, onINP, onLCP, onTTFB]) on(record)

  const navigated = safe(() => {
    if (location.pathname !== path) view()
  })
  for (const k of ['pushState', 'replaceState'] as const) {
    const original = history[k]
    history[k] = function (this: History, ...a: Parameters<History['pushState']>) {
      original.apply(this, a)
      navigated()
    }
  }

  addEventListener('popstate', navigated)
  addEventListener('pagehide', hide)
  addEventListener(
    'pageshow',
    safe((e: PageTransitionEvent) => {
      if (!e.persisted) return
      docPath = location.pathname
      view()
      visible()
    })
  )
  addEventListener(
    'visibilitychange',
    safe(() => {
      if (document.visibilityState === 'hidden') return hide()
      if (left) beat()
      visible()
    })
  )

  // A page opened in a background tab is a view but not live; a prerendered one counts only once
  // it is shown.
  const start = () => {
    view()
    document.visibilityState === 'visible' ? visible() : hide()
  }
  if ((document as { prerendering?: boolean }).prerendering)
    addEventListener('prerenderingchange', start, { once: true })
  else start()
})()
