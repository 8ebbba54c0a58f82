/**
 * @module Browser-test helpers: Debian's Chromium through playwright-core, a real Radiator with the
 * generic hook enabled, builds posted through that hook, and site figures published on the live
 * channel.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startTestServer, type TestServer } from '../../server/test/harness.ts'
import { ROOT } from '../../server/http/web-build.ts'
import { tileId } from '../../server/ci/store.ts'
import type { Build, BuildStatus } from '../src/types.ts'
import type { Summary, VitalName } from '../../contract/metrics.ts'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)
export const SCREENSHOTS = join(ROOT, '.artifacts', 'screenshots')
export const TOKEN = 't0ken'

if (!hasChromium)
  console.warn(
    `\n*** Radiator browser tests SKIPPED: ${CHROMIUM} not found. Install Chromium with \`apt-get install chromium\` to run them. ***\n`
  )

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--js-flags=--expose-gc'],
  })
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true })
  return join(SCREENSHOTS, name)
}

export function startServer(
  env: Parameters<typeof startTestServer>[0] = {},
  dataDir?: string,
  caps?: Parameters<typeof startTestServer>[2]
): Promise<TestServer> {
  return startTestServer({ GENERIC_WEBHOOK_TOKEN: TOKEN, LIVE_POLL_TIMEOUT_MS: '5000', ...env }, dataDir, caps)
}

export interface BuildInput {
  id?: string
  project: string
  status: BuildStatus
  pipeline?: string
  branch?: string
  number?: number
  commit?: { sha?: string | null; subject?: string | null; author?: string | null }
  actor?: string | null
  url?: string | null
  queuedAt?: string
  startedAt?: string
  finishedAt?: string
  durationMs?: number
}

/** POSTs a build to the generic hook (signed with the bearer token) and returns the answer's JSON. */
export async function postBuild(server: { url: string }, b: BuildInput): Promise<unknown> {
  const res = await fetch(`${server.url}/hooks/generic`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(b),
  })
  const text = await res.text()
  if (!res.ok) throw new Error(`POST /hooks/generic → ${res.status}: ${text}`)
  return text ? JSON.parse(text) : null
}

export const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString()
const MIN = 60_000

const PEOPLE = ['octocat', 'ada', 'grace', 'linus', 'margaret', 'ken', 'barbara', 'dennis']
const SUBJECTS = [
  'Fix login redirect loop on expired sessions',
  'Bump dependencies',
  'Add retry to the payment webhook handler',
  'Refactor the search index builder for incremental updates',
  'Translate checkout page',
  'Speed up image thumbnails',
  'Remove the legacy feature flag for the new navigation bar that shipped last quarter',
  '<img src=x onerror=alert(1)> sanitize me',
]

/**
 * Posts a history for `n` pipelines: mostly passing, some failing, some running (with an estimate
 * from earlier successes), one queued, one canceled; branches mixed. Returns the projects.
 */
export async function seedPipelines(server: { url: string }, n: number, opts: { prefix?: string } = {}) {
  const projects: string[] = []
  for (let i = 0; i < n; i++) {
    const project = `${opts.prefix ?? 'acme'}/${['web', 'api', 'mobile', 'infra', 'docs', 'billing', 'search', 'auth'][i % 8]}${i >= 8 ? `-${Math.floor(i / 8)}` : ''}`
    const branch = i % 5 === 4 ? `feature/long-branch-name-${i}-with-words` : 'main'
    projects.push(project)
    const who = PEOPLE[i % PEOPLE.length]!
    const kind =
      i % 10 === 1 || i === 7
        ? 'failing'
        : i % 10 === 3
          ? 'running'
          : i === 5
            ? 'queued'
            : i === 9
              ? 'canceled'
              : 'passing'
    // Three finished builds first (the last success sets the estimate), then the current one.
    for (let k = 0; k < 3; k++) {
      const status: BuildStatus =
        kind === 'failing' && k === 2 ? 'failure' : i % 7 === 0 && k === 1 ? 'failure' : 'success'
      const end = (4 - k) * 20 * MIN + i * 1000
      await postBuild(server, {
        id: `${project}:${branch}:${k}`,
        project,
        branch,
        pipeline: 'CI',
        number: 100 + k,
        status,
        actor: PEOPLE[(i + k) % PEOPLE.length],
        commit: {
          sha: `${(i * 7919 + k).toString(16).padStart(7, '0')}abcdef`,
          subject: SUBJECTS[(i + k) % SUBJECTS.length],
          author: who,
        },
        url: `https://ci.example.com/${project}/${100 + k}`,
        startedAt: iso(end + (4 + (i % 5)) * MIN),
        finishedAt: iso(end),
      })
    }
    if (kind === 'running' || kind === 'queued' || kind === 'canceled') {
      await postBuild(server, {
        id: `${project}:${branch}:3`,
        project,
        branch,
        pipeline: 'CI',
        number: 103,
        status: kind === 'canceled' ? 'canceled' : kind,
        actor: who,
        commit: { sha: 'feedbeef', subject: SUBJECTS[i % SUBJECTS.length], author: who },
        url: `https://ci.example.com/${project}/103`,
        queuedAt: iso(3 * MIN),
        ...(kind === 'running' ? { startedAt: iso((2 + (i % 4)) * MIN) } : {}),
        ...(kind === 'canceled' ? { startedAt: iso(6 * MIN), finishedAt: iso(5 * MIN) } : {}),
      })
    }
  }
  return projects
}

/** A plausible 24 h summary for a site, with a full hour of per-minute figures. */
export function fakeSummary(site: string, opts: { live?: number; slow?: boolean } = {}): Summary {
  const now = Date.now()
  const minute = Math.floor(now / MIN) * MIN
  const series = Array.from({ length: 60 }, (_, i) => {
    const t = minute - (59 - i) * MIN
    const wave = Math.round(20 + 12 * Math.sin(i / 7) + (i > 40 ? 10 : 0))
    return { t: new Date(t).toISOString(), visitors: wave, pageviews: Math.round(wave * 2.6 + (i % 3)) }
  })
  const v = (
    p75: number,
    rating: Summary['vitals']['LCP']['rating'],
    good: number,
    ni: number
  ): Summary['vitals']['LCP'] => ({
    p50: p75 * 0.7,
    p75,
    p95: p75 * 1.9,
    rating,
    shares: { good, ni, poor: Math.max(0, 1 - good - ni) },
    samples: 1234,
  })
  const vitals: Record<VitalName, Summary['vitals']['LCP']> = {
    LCP: opts.slow ? v(4300, 'poor', 0.41, 0.3) : v(2100, 'good', 0.81, 0.12),
    INP: v(240, 'needs-improvement', 0.68, 0.25),
    CLS: v(0.04, 'good', 0.93, 0.05),
    FCP: v(1500, 'good', 0.79, 0.15),
    TTFB: v(950, 'needs-improvement', 0.62, 0.3),
  }
  // 24 hourly p75s per vital; LCP steps up at the hour of a (pretend) slow deploy 5 hours ago.
  const hour = Math.floor(now / (60 * MIN)) * 60 * MIN
  const trend = Array.from({ length: 24 }, (_, i) => {
    const wobble = 1 + 0.08 * Math.sin(i / 2)
    const after = i >= 19 && opts.slow
    return {
      t: new Date(hour - (23 - i) * 60 * MIN).toISOString(),
      LCP: Math.round((after ? 4300 : 2100) * wobble),
      INP: Math.round(240 * wobble),
      CLS: Math.round(0.04 * wobble * 1000) / 1000,
      FCP: Math.round(1500 * wobble),
      TTFB: i === 3 ? null : Math.round(950 * wobble),
    }
  })
  return {
    site,
    window: '24h',
    device: 'all',
    trend,
    from: new Date(hour - 23 * 60 * MIN).toISOString(),
    visitors: { live: opts.live ?? 17, last5m: (opts.live ?? 17) + 9 },
    pageviews: 4821,
    vitals,
    topPages: {
      byViews: [
        { path: '/', views: 1820 },
        { path: '/pricing', views: 640 },
        { path: '/blog/a-very-long-article-title-that-keeps-going-and-going', views: 410 },
        { path: '/docs/getting-started', views: 380 },
      ],
      byLcp: [
        { path: '/gallery', p75: 5200, samples: 88 },
        { path: '/', p75: 2300, samples: 900 },
      ],
      byInp: [
        { path: '/search', p75: 520, samples: 120 },
        { path: '/checkout', p75: 260, samples: 64 },
      ],
    },
    series,
  }
}

/** Publishes a site's figures on the live channel the way the metrics capability does. */
export function publishSite(server: TestServer, site: string, opts: { live?: number; slow?: boolean } = {}) {
  const s = fakeSummary(site, opts)
  server.hub.publish('vitals', s, `vitals:${site}`)
  server.hub.publish('visitors', { site, live: s.visitors.live, last5m: s.visitors.last5m }, `visitors:${site}`)
}

/** Waits until the page has applied every event the server handed out (the store's counter). */
export async function waitForHead(page: Page, server: TestServer, timeout = 20_000) {
  await page.waitForFunction((head) => ((globalThis as any).__radiator?.lastId ?? 0) >= head, server.hub.head, {
    timeout,
    polling: 50,
  })
}

export type { Build }

/** Real-world shaped names: long, sharing prefixes, the kind that used to end in "acme/billing-pl…". */
export const WALL_PROJECTS = [
  'acme/design-system-tokens',
  'acme/billing-platform-api',
  'acme/billing-platform-worker',
  'acme/checkout-frontend-web',
  'acme/infrastructure-terraform-modules',
  'acme/mobile-app-ios',
  'acme/mobile-app-android',
  'acme/data-pipeline-airflow-dags',
  'acme/search-indexer',
  'acme/identity-service',
  'acme/notifications-email-templates',
  'acme/customer-support-portal',
  'acme/marketing-site',
  'acme/internal-admin-dashboard',
  'acme/payments-reconciliation-jobs',
  'acme/observability-grafana-dashboards',
  'acme/recommendations-ml-training',
  'acme/warehouse-inventory-sync',
  'acme/partner-integrations-gateway',
  'acme/docs',
]

export interface WallSeed {
  /** Tile ids that are broken (a fix may be running on one of them). */
  failing: string[]
  /** The broken pipeline whose fix is running. */
  fixing: string
  running: string[]
  all: string[]
}

/**
 * 40 pipelines (20 projects × main and a release or feature branch): 6 broken (one with its fix
 * running), 4 running, the rest passing. Two builds per pipeline, so it seeds quickly.
 */
export async function seedWall(server: { url: string }, opts: { pipeline?: string } = {}): Promise<WallSeed> {
  const seed: WallSeed = { failing: [], fixing: '', running: [], all: [] }
  const tileOf = (project: string, branch: string) =>
    tileId('generic', project, opts.pipeline ?? 'build-test-and-deploy', branch)
  let n = 0
  for (const project of WALL_PROJECTS) {
    for (const branch of [
      'main',
      n % 3 ? `release/2024.${10 + (n % 3)}` : `feature/PROJ-${1200 + n}-retry-payment-webhooks`,
    ]) {
      const i = n++
      const kind = [3, 9, 14, 22, 27, 35].includes(i) ? 'failing' : [5, 12, 30, 38].includes(i) ? 'running' : 'passing'
      const id = tileOf(project, branch)
      seed.all.push(id)
      const common = {
        project,
        branch,
        pipeline: opts.pipeline ?? 'build-test-and-deploy',
        url: `https://ci.example.com/${i}`,
      }
      const who = PEOPLE[i % PEOPLE.length]!
      await postBuild(server, {
        ...common,
        id: `${project}:${branch}:1`,
        number: 4100 + i,
        status: 'success',
        actor: who,
        commit: { sha: 'abc1234', subject: SUBJECTS[i % SUBJECTS.length], author: who },
        startedAt: iso(60 * MIN),
        finishedAt: iso(54 * MIN),
      })
      if (kind === 'failing') {
        seed.failing.push(id)
        await postBuild(server, {
          ...common,
          id: `${project}:${branch}:2`,
          number: 4200 + i,
          status: 'failure',
          actor: PEOPLE[(i + 1) % PEOPLE.length],
          commit: {
            sha: 'bad0001',
            subject: SUBJECTS[(i + 3) % SUBJECTS.length],
            author: PEOPLE[(i + 1) % PEOPLE.length],
          },
          startedAt: iso(40 * MIN),
          finishedAt: iso(33 * MIN),
        })
        if (!seed.fixing) {
          seed.fixing = id
          await postBuild(server, {
            ...common,
            id: `${project}:${branch}:3`,
            number: 4300 + i,
            status: 'running',
            actor: 'ada',
            commit: { sha: 'f1x0001', subject: 'Fix the flaky payment retry test', author: 'ada' },
            startedAt: iso(2 * MIN),
          })
        }
      } else if (kind === 'running') {
        seed.running.push(id)
        await postBuild(server, {
          ...common,
          id: `${project}:${branch}:2`,
          number: 4200 + i,
          status: 'running',
          actor: who,
          commit: { sha: 'run0001', subject: SUBJECTS[(i + 5) % SUBJECTS.length], author: who },
          startedAt: iso(3 * MIN),
        })
      }
    }
  }
  return seed
}
