/**
 * @module Simulated visitors for the demo: what the site snippet would POST to /api/collect for a
 * person arriving, reading (heartbeats), moving to another page and leaving, with Web Vitals in
 * realistic ranges (mostly good, some needing improvement, a few poor). Pure: the caller sends.
 */
import type { BeaconEvent, VitalName } from '../contract/metrics.ts'

export interface SimVisitor {
  n: number
  site: string
  /** A distinct client address, sent as X-Forwarded-For (the demo server trusts the proxy). */
  ip: string
  ua: string
  width: number
  mobile: boolean
  path: string
  /** Document counter: vital ids are per page load. */
  page: number
  arrivedAt: number
  leaveAt: number
  nextBeat: number
  nextNav: number
}

export interface CollectPost {
  site: string
  headers: Record<string, string>
  body: string
}

const PATHS: Record<string, string[]> = {
  shop: ['/', '/', '/products', '/products/desk-lamp', '/products/standing-desk', '/cart', '/checkout'],
  docs: ['/', '/getting-started', '/guides/webhooks', '/guides/tv-mode', '/api', '/changelog'],
}

const DESKTOP_UA = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
]
const MOBILE_UA = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
]
const DESKTOP_WIDTHS = [1280, 1366, 1440, 1536, 1680, 1920]
const MOBILE_WIDTHS = [360, 390, 393, 412, 430]

/** [good, needs improvement, poor] value ranges per vital (web-vitals' thresholds split them). */
const RANGES: Record<VitalName, [number, number][]> = {
  TTFB: [
    [90, 800],
    [800, 1800],
    [1800, 2600],
  ],
  FCP: [
    [450, 1800],
    [1800, 3000],
    [3000, 4200],
  ],
  LCP: [
    [800, 2500],
    [2500, 4000],
    [4000, 6500],
  ],
  INP: [
    [30, 200],
    [200, 500],
    [500, 850],
  ],
  CLS: [
    [0, 0.1],
    [0.1, 0.25],
    [0.25, 0.45],
  ],
}

const pick = <T>(xs: readonly T[], rand: () => number): T => xs[Math.floor(rand() * xs.length)]!

export function pathsFor(site: string): string[] {
  return PATHS[site.split('.')[0]!] ?? ['/']
}

/** A vital's value: mostly good; mobile and the heavier pages lean slower. */
export function vitalValue(name: VitalName, mobile: boolean, path: string, rand: () => number): number {
  const heavy = mobile || path.startsWith('/checkout') || path.startsWith('/products/')
  const r = rand()
  const band = r < (heavy ? 0.74 : 0.88) ? 0 : r < (heavy ? 0.95 : 0.98) ? 1 : 2
  const [lo, hi] = RANGES[name][band]!
  const v = lo + (hi - lo) * rand()
  return name === 'CLS' ? Math.round(v * 1000) / 1000 : Math.round(v * 10) / 10
}

export function newVisitor(n: number, site: string, now: number, rand: () => number = Math.random): SimVisitor {
  const mobile = rand() < 0.4
  const paths = pathsFor(site)
  return {
    n,
    site,
    // 198.18.0.0/15 is reserved for benchmarking: plenty of distinct, never-routed addresses.
    ip: `198.18.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`,
    ua: pick(mobile ? MOBILE_UA : DESKTOP_UA, rand),
    width: pick(mobile ? MOBILE_WIDTHS : DESKTOP_WIDTHS, rand),
    mobile,
    path: pick(paths, rand),
    page: 0,
    arrivedAt: now,
    leaveAt: now + 30_000 + Math.round(rand() * 150_000),
    nextBeat: now + 15_000,
    nextNav: now + 12_000 + Math.round(rand() * 40_000),
  }
}

const VITAL_ORDER: VitalName[] = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB']
/** web-vitals' id shape (`v5-<time>-<number>`): one per metric per page load. */
const vitalId = (v: SimVisitor, name: VitalName) =>
  `v5-${v.arrivedAt}-${v.n * 10_000 + v.page * 10 + VITAL_ORDER.indexOf(name)}`

function vitals(v: SimVisitor, names: VitalName[], rand: () => number): BeaconEvent[] {
  return names.map((name) => ({
    type: 'vital',
    path: v.path,
    name,
    value: vitalValue(name, v.mobile, v.path, rand),
    id: vitalId(v, name),
    nav: 'navigate',
  }))
}

/** Page load: the page view, with the load-time vitals as web-vitals reports them. */
export function arrive(v: SimVisitor, rand: () => number = Math.random): BeaconEvent[] {
  return [{ type: 'pageview', path: v.path }, ...vitals(v, ['TTFB', 'FCP', 'LCP'], rand)]
}

export function heartbeat(v: SimVisitor): BeaconEvent[] {
  return [{ type: 'heartbeat', path: v.path }]
}

/**
 * A hard navigation: the old document's INP, CLS and leave (sent on pagehide), then the new
 * document's load. Two separate requests, the second a moment later, as a browser sends them: a
 * leave and a page view in the same instant would read as a visitor who left.
 */
export function navigate(
  v: SimVisitor,
  now: number,
  rand: () => number = Math.random
): { leaving: BeaconEvent[]; arriving: BeaconEvent[] } {
  const leaving = leave(v, rand)
  const others = pathsFor(v.site).filter((p) => p !== v.path)
  v.path = others.length ? pick(others, rand) : v.path
  v.page++
  v.nextNav = now + 15_000 + Math.round(rand() * 45_000)
  v.nextBeat = now + 15_000
  return { leaving, arriving: arrive(v, rand) }
}

export function leave(v: SimVisitor, rand: () => number = Math.random): BeaconEvent[] {
  return [...vitals(v, ['INP', 'CLS'], rand), { type: 'leave', path: v.path }]
}

/** The POST the snippet makes for `events` (sendBeacon: text/plain, the page's Origin). */
export function collectPost(v: SimVisitor, events: BeaconEvent[]): CollectPost {
  return {
    site: v.site,
    headers: {
      'Content-Type': 'text/plain;charset=UTF-8',
      Origin: `https://${v.site}`,
      Referer: `https://${v.site}${v.path}`,
      'User-Agent': v.ua,
      'X-Forwarded-For': v.ip,
    },
    body: JSON.stringify({ site: v.site, width: v.width, events }),
  }
}
