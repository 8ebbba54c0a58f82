/**
 * @module What the demo plays against a running Radiator over real HTTP: a history of finished
 * builds on eleven pipelines across the providers it has generators for (one of them failing), then a loop
 * that starts and finishes builds (the failing one goes green first), simulated visitors on the
 * demo sites, and a couple of custom metrics. Every request is bounded and everything stops on
 * `stop()`.
 */
import { randomUUID } from 'node:crypto'
import type { ProviderName } from '../contract/builds.ts'
import type { ConfigVar } from '../server/config.ts'
import { PROVIDER_NAMES } from '../server/ci/registry.ts'
import { hookSecrets } from '../server/test/sign/index.ts'
import {
  deliveriesFor,
  GENERATORS,
  newSha,
  type DemoBuild,
  type DemoPipeline,
  type DemoStatus,
  type Person,
} from './deliveries.ts'
import { arrive, collectPost, heartbeat, leave, navigate, newVisitor, type SimVisitor } from './visitors.ts'
import type { BeaconEvent } from '../contract/metrics.ts'

export const DEMO_SECRET = 'radiator-demo-secret'
export const DEMO_METRICS_TOKEN = 'radiator-demo-metrics-token'
export const DEMO_SITES = ['shop.demo.test', 'docs.demo.test']

/** The configuration the demo runs with: every provider's secret set, the demo sites, a proxy. */
export function demoEnv(): Partial<Record<ConfigVar, string>> {
  return {
    LOG_LEVEL: 'warn',
    // A throwaway demo on a laptop: open to viewers, and it says so when it starts.
    PUBLIC_DASHBOARD: 'true',
    ...hookSecrets(DEMO_SECRET),
    SITES: DEMO_SITES.join(','),
    // The shop is deployed by acme/shop's deploy pipeline, the docs by acme/docs' builds.
    SITE_DEPLOYS: 'shop.demo.test=acme/shop:deploy,docs.demo.test=acme/docs',
    // Simulated visitors differ by X-Forwarded-For.
    TRUST_PROXY: 'true',
    METRICS_TOKEN: DEMO_METRICS_TOKEN,
  }
}

/** The registry's providers the demo has a generator for: any other is simply not played. */
const PLAYED = new Set(PROVIDER_NAMES.filter((name) => Object.hasOwn(GENERATORS, name)))

export const PIPELINES: DemoPipeline[] = (
  [
    { provider: 'github', project: 'acme/web', pipeline: 'CI', branch: 'main', typicalMs: 12_000 },
    { provider: 'github', project: 'acme/web', pipeline: 'CI', branch: 'feature/new-checkout', typicalMs: 13_000 },
    { provider: 'gitlab', project: 'acme/api', pipeline: 'build & test', branch: 'main', typicalMs: 12_000 },
    { provider: 'circleci', project: 'acme/mobile', pipeline: 'build-and-test', branch: 'main', typicalMs: 16_000 },
    { provider: 'buildkite', project: 'acme/infra', pipeline: 'Infra', branch: 'main', typicalMs: 9_000 },
    { provider: 'bitbucket', project: 'acme/design-system', pipeline: 'Unit tests', branch: 'main', typicalMs: 7_000 },
    { provider: 'azure-devops', project: 'Billing', pipeline: 'billing-ci', branch: 'main', typicalMs: 11_000 },
    // Drone names no pipeline: the normalizer calls every Drone build "drone".
    { provider: 'drone', project: 'acme/docs', pipeline: 'drone', branch: 'main', typicalMs: 6_000 },
    // A Jenkins freestyle job: its name is the project, its display name the pipeline.
    { provider: 'jenkins', project: 'acme-payments', pipeline: 'acme-payments', branch: 'main', typicalMs: 15_000 },
    { provider: 'gitea', project: 'acme/search', pipeline: 'CI', branch: 'feat/fuzzy-match', typicalMs: 8_000 },
    { provider: 'generic', project: 'acme/shop', pipeline: 'deploy', branch: 'main', typicalMs: 10_000 },
  ] satisfies DemoPipeline[]
).filter((p) => PLAYED.has(p.provider))

/** The pipeline that is red when the demo starts and goes green first. */
export const FAILING = PIPELINES.find((p) => p.project === 'acme/api') ?? PIPELINES[0]!

export const PEOPLE: Person[] = [
  { name: 'Ada Lovelace', login: 'ada', email: 'ada@acme.test' },
  { name: 'Grace Hopper', login: 'grace', email: 'grace@acme.test' },
  { name: 'Linus Chen', login: 'lchen', email: 'linus@acme.test' },
  { name: 'Maya Patel', login: 'mpatel', email: 'maya@acme.test' },
  { name: 'Sam Okafor', login: 'sokafor', email: 'sam@acme.test' },
  { name: 'Mona Octocat', login: 'octocat', email: 'mona@acme.test' },
]

const SUBJECTS = [
  'Fix login redirect losing the session cookie',
  'Bump dependencies',
  'Add dark mode toggle to settings',
  'Speed up product search with a prefix index',
  'Refactor cart totals into one module',
  'Retry the flaky payment webhook test',
  'Update API docs for v2 pagination',
  'Cache product images at the edge',
  'Handle an empty basket on checkout',
  'Tidy the CI config',
  'Add rate limiting to /orders',
  'Lazy-load the reviews widget',
  'Log slow queries over 200 ms',
  'Translate checkout into Portuguese',
]
const BREAKING_SUBJECT = 'Switch to the new token-bucket rate limiter'
const FIX_SUBJECT = 'Fix off-by-one in the rate limiter window'

const MIN = 60_000
const REQUEST_TIMEOUT_MS = 5_000
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!
const between = (lo: number, hi: number) => lo + Math.round(Math.random() * (hi - lo))
const label = (p: DemoPipeline) => `${p.project} ${p.branch} (${p.provider})`

export interface DemoOptions {
  /** The server's base URL, without a trailing slash. */
  url: string
  /** The secret every provider is configured with. */
  secret: string
  metricsToken: string
  sites: string[]
  /** Where the demo narrates (one line per notable event). */
  out?: (line: string) => void
}

export interface HookResult {
  provider: ProviderName
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: the demo reads fields of answers it posted itself
  body: any
}

interface Tile {
  pipe: DemoPipeline
  number: number
  lastResult: 'success' | 'failure' | null
  /** The live build, how it will end and when, and its start deliveries (the finish waits for them). */
  running: { build: DemoBuild; result: 'success' | 'failure'; finishAt: number; started: Promise<unknown> } | null
}

export class Demo {
  private readonly abort = new AbortController()
  private readonly inflight = new Set<Promise<unknown>>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly tiles: Tile[]
  private readonly visitors = new Map<number, SimVisitor>()
  private readonly warned = new Set<string>()
  private nextId = 48_210_000 + between(0, 9_000)
  private visitorCount = 0
  private liveSince = 0
  private nextStartAt = 0
  private deploysToday = between(3, 6)
  private errorRate = 0.8
  private stopped = false
  private readonly out: (line: string) => void

  constructor(private readonly opts: DemoOptions) {
    this.out = opts.out ?? (() => {})
    this.tiles = PIPELINES.map((pipe, i) => ({ pipe, number: 100 + i * 37, running: null, lastResult: null }))
  }

  /** A new build of `pipe`, queued at `queuedAt`, running from a moment later. */
  build(
    pipe: DemoPipeline,
    status: DemoStatus,
    queuedAt: number,
    author = pick(PEOPLE),
    subject = pick(SUBJECTS)
  ): DemoBuild {
    const tile = this.tiles.find((t) => t.pipe === pipe)
    return {
      pipe,
      id: (this.nextId += between(3, 40)),
      uuid: randomUUID(),
      number: tile ? ++tile.number : between(1, 999),
      sha: newSha(),
      subject,
      author,
      status,
      queuedAt,
      startedAt: queuedAt + between(1_000, 4_000),
      finishedAt: null,
      sent: 0,
    }
  }

  /** Sends the deliveries for the build's current status, in order; the answers, in order. */
  async deliver(b: DemoBuild): Promise<HookResult[]> {
    const results: HookResult[] = []
    for (const d of deliveriesFor(b, this.opts.secret)) {
      const res = await this.request(d.path, d.raw, d.headers)
      if (!res) break
      const body = (await res.json().catch(() => null)) as { stored?: boolean } | null
      results.push({ provider: d.provider, status: res.status, body })
      if (res.status !== 200 || !body?.stored)
        this.warnOnce(
          `hook:${d.provider}:${res.status}`,
          `${d.provider} delivery answered ${res.status}: ${JSON.stringify(body)}`
        )
    }
    return results
  }

  /** Finished builds for every pipeline (3–5 each, over the last hours); the failing one ends red. */
  async playHistory(now = Date.now()): Promise<void> {
    await Promise.all(
      this.tiles.map(async (tile, i) => {
        const count = 3 + (i % 3)
        const results: ('success' | 'failure')[] = Array.from({ length: count }, () => 'success')
        if (tile.pipe === FAILING) results.splice(-2, 2, 'failure', 'failure')
        // A flaky one: a red build in the middle of its history.
        else if (i % 4 === 1) results[1] = 'failure'
        let end = now - between(8, 25) * MIN
        const ends = results.map(() => (end -= between(25, 70) * MIN)).reverse()
        for (const [k, result] of results.entries()) {
          const breaking = tile.pipe === FAILING && k === count - 2
          const b = this.build(
            tile.pipe,
            'running',
            ends[k]! - tile.pipe.typicalMs - 3_000,
            breaking ? PEOPLE[2] : undefined,
            breaking ? BREAKING_SUBJECT : undefined
          )
          await this.deliver(b)
          b.status = result
          b.finishedAt = b.startedAt + jitter(tile.pipe.typicalMs)
          await this.deliver(b)
          tile.lastResult = result
        }
      })
    )
  }

  /** Starts the live loops: builds, visitors, custom metrics. */
  start(): void {
    const now = Date.now()
    this.liveSince = now
    this.nextStartAt = now + 5_000
    // The failing pipeline is the first to run, and it comes back green.
    const failing = this.tiles.find((t) => t.pipe === FAILING)!
    this.timers.push(setTimeout(() => this.startBuild(failing, 'success', 12_000), 2_000))
    this.every(500, () => this.buildTick())
    for (let k = 0; k < 6; k++) this.spawnVisitor(now)
    this.every(1_000, () => this.visitorTick())
    this.postMetrics()
    this.every(10_000, () => this.postMetrics())
  }

  /** Stops every loop and waits (bounded) for requests in flight. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.abort.abort()
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, 2_000))])
  }

  private every(ms: number, f: () => void) {
    this.timers.push(setInterval(f, ms))
  }

  // -------------------------------------------------------------------------------------------
  // Builds

  private buildTick(): void {
    const now = Date.now()
    for (const tile of this.tiles) if (tile.running && now >= tile.running.finishAt) this.finishBuild(tile)
    if (now < this.nextStartAt) return
    this.nextStartAt = now + between(3_000, 6_000)
    const idle = this.tiles.filter((t) => !t.running)
    if (this.tiles.filter((t) => t.running).length >= 4 || idle.length === 0) return
    const tile = pick(idle)
    const failing = this.tiles.filter((t) => t.lastResult === 'failure').length
    // A red pipeline usually recovers; a green one rarely breaks (never in the first 40 s).
    const result: 'success' | 'failure' =
      tile.lastResult === 'failure'
        ? Math.random() < 0.85
          ? 'success'
          : 'failure'
        : now - this.liveSince > 40_000 && failing < 2 && Math.random() < 0.12
          ? 'failure'
          : 'success'
    this.startBuild(tile, result, Math.min(20_000, Math.max(5_000, jitter(tile.pipe.typicalMs))))
  }

  private startBuild(tile: Tile, result: 'success' | 'failure', durationMs: number): void {
    if (this.stopped || tile.running) return
    const now = Date.now()
    const fixing = tile.pipe === FAILING && tile.lastResult === 'failure'
    const b = this.build(
      tile.pipe,
      'running',
      now - between(1_000, 3_000),
      fixing ? PEOPLE[2] : undefined,
      fixing ? FIX_SUBJECT : undefined
    )
    b.startedAt = now
    tile.running = { build: b, result, finishAt: now + durationMs, started: this.track(this.deliver(b)) }
    this.out(`▶ ${label(tile.pipe)} #${b.number} running — ${b.subject}`)
  }

  private finishBuild(tile: Tile): void {
    const { build: b, result, started } = tile.running!
    const at = Date.now()
    tile.running = null
    const wasFailing = tile.lastResult === 'failure'
    tile.lastResult = result
    if (result === 'success' && tile.pipe.branch === 'main') this.deploysToday++
    // After the start deliveries, whatever happened to them: a provider sends them in order too.
    this.track(
      started.then(() => {
        b.status = result
        b.finishedAt = at
        return this.deliver(b)
      })
    )
    const word =
      result === 'success'
        ? wasFailing
          ? `✓ fixed by ${b.author.login}`
          : '✓ passed'
        : wasFailing
          ? '✗ still failing'
          : `✗ broken by ${b.author.login}`
    this.out(`${word}: ${label(tile.pipe)} #${b.number}`)
  }

  // -------------------------------------------------------------------------------------------
  // Visitors

  /** Between 5 and 15 visitors, drifting slowly so the count visibly moves. */
  private targetVisitors(now: number): number {
    return Math.round(10 + 5 * Math.sin((now - this.liveSince) / 40_000))
  }

  private spawnVisitor(now: number): void {
    const n = ++this.visitorCount
    const site = this.opts.sites[n % this.opts.sites.length]!
    const v = newVisitor(n, site, now)
    this.visitors.set(n, v)
    this.collect(v, arrive(v))
  }

  private visitorTick(): void {
    const now = Date.now()
    for (const v of [...this.visitors.values()]) {
      if (now >= v.leaveAt) {
        this.visitors.delete(v.n)
        this.collect(v, leave(v))
      } else if (now >= v.nextNav) {
        const { leaving, arriving } = navigate(v, now)
        // The new page's beacon follows once it has loaded.
        this.track(
          this.collect(v, leaving)
            .then(() => sleep(between(200, 700), this.abort.signal))
            .then(() => this.collect(v, arriving))
        )
      } else if (now >= v.nextBeat) {
        v.nextBeat = now + 15_000
        this.collect(v, heartbeat(v))
      }
    }
    if (this.visitors.size < this.targetVisitors(now) && Math.random() < 0.5) this.spawnVisitor(now)
  }

  private collect(v: SimVisitor, events: BeaconEvent[]): Promise<void> {
    const p = collectPost(v, events)
    return this.track(
      this.request('/api/collect', p.body, p.headers).then(async (res) => {
        if (!res || res.ok) return
        const body = await res.text().catch(() => '')
        if (res.status === 404 && !body.includes('unknown_site'))
          this.warnOnce(
            'collect-404',
            'site metrics are not available on this server (/api/collect answered 404); visitors are skipped'
          )
        else this.warnOnce(`collect-${res.status}`, `/api/collect answered ${res.status}: ${body.slice(0, 200)}`)
      })
    )
  }

  // -------------------------------------------------------------------------------------------
  // Custom metrics

  private postMetrics(): void {
    this.errorRate = Math.min(4, Math.max(0.1, this.errorRate + (Math.random() - 0.5) * 0.6))
    const body = JSON.stringify(customMetrics(this.deploysToday, this.errorRate))
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${this.opts.metricsToken}` }
    this.track(
      this.request('/api/metrics', body, headers).then((res) => {
        if (res && !res.ok && res.status !== 404)
          this.warnOnce(`metrics-${res.status}`, `/api/metrics answered ${res.status}`)
      })
    )
  }

  // -------------------------------------------------------------------------------------------
  // Plumbing

  /** One bounded POST; null when it failed or the demo is stopping. */
  private async request(
    path: string,
    body: Buffer | string,
    headers: Record<string, string>
  ): Promise<Response | null> {
    if (this.stopped) return null
    try {
      return await fetch(this.opts.url + path, {
        method: 'POST',
        headers,
        body: typeof body === 'string' ? body : new Uint8Array(body),
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      })
    } catch (e) {
      if (!this.stopped) this.warnOnce(`fetch:${path}`, `POST ${path} failed: ${(e as Error).message}`)
      return null
    }
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p)
    const done = () => this.inflight.delete(p)
    p.then(done, done)
    return p
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return
    this.warned.add(key)
    this.out(`! ${message}`)
  }
}

/** The custom metrics a team might push (POST /api/metrics). */
export function customMetrics(deploysToday: number, errorRate: number) {
  return [
    { name: 'deploys today', value: deploysToday },
    { name: 'error rate', value: Math.round(errorRate * 100) / 100, unit: '%' },
  ]
}

/**
 * Resolves after `ms`, or at once when `signal` aborts. The demo's signal lives as long as the demo,
 * so a sleep that ends on time takes its listener off again: left there, one per page view piles up
 * (Node warns at eleven) and keeps every finished sleep alive.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const onAbort = () => {
      clearTimeout(t)
      resolve()
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** ±20 % around a typical value. */
function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4))
}
