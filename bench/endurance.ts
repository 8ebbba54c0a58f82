/**
 * `npm run bench -- endurance`: Radiator under steady traffic for a long time (BENCH_ENDURANCE_S,
 * default 600 s): BENCH_ENDURANCE_BEACONS (1,000) beacons per second to POST /api/collect (open
 * loop: sent on a schedule, not when the previous answer came; half page views, half the vitals
 * flush of a page being left), one signed GitHub `workflow_run` delivery per second (the real
 * fixture, each a new run on one of 20 branches), and BENCH_ENDURANCE_CLIENTS (1,000) live
 * WebSocket clients on /live the whole time. Radiator runs in its own process, as `npm start`
 * would, with the product's default heartbeat.
 *
 * Every BENCH_ENDURANCE_SAMPLE_S (10) s: the server's RSS (/proc/<pid>/status VmRSS), split into
 * V8's heap (used and reserved), external buffers and the rest (SQLite's page cache, native code)
 * from prom-client's process metrics; its event loop delay since the previous sample (GET
 * /metrics with a scrape token: nodejs_eventloop_lag_p99/max_seconds, whose histogram is reset at
 * each scrape), its CPU, and the beacons and deliveries answered in the interval. Reported: start
 * and end, and the slope of a least-squares line through RSS over the whole run and over its
 * second half (MB/min), the growth trend (the first minutes include the SQLite page cache filling
 * up to DB_CACHE_MB and V8 sizing its heap: a short run's slope is not a leak rate).
 *
 * Checked after the run (which throws when a check fails): every beacon answered 202 is stored
 * (hits and samples counted in the database file; one beacon in flight when a request errored
 * may be stored beyond them, no more); every delivery answered 200 stored a build (counted in the
 * database); every client is still connected and got every build event exactly once: client 0's
 * build events name each stored build once, and every other client holds the same event ids.
 *
 * A smoke check: BENCH_ENDURANCE_S=30. Also BENCH_ENDURANCE_CONNECTIONS (256: the beacons'
 * keep-alive connections).
 */
import { createHmac, randomUUID } from 'node:crypto'
import { closeSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { Pool } from 'undici'
import { loadFixture } from '../server/test/fixtures.ts'
import { openMany, WsBench } from './clients.ts'
import { GITHUB_SECRET, machine, mdTable, ms, quantile, sleep, startRadiator, writeJson, type Proc } from './procs.ts'

const DURATION_S = Number(process.env.BENCH_ENDURANCE_S ?? 600)
const BEACONS = Number(process.env.BENCH_ENDURANCE_BEACONS ?? 1000)
const CLIENTS = Number(process.env.BENCH_ENDURANCE_CLIENTS ?? 1000)
const SAMPLE_S = Number(process.env.BENCH_ENDURANCE_SAMPLE_S ?? 10)
/**
 * Keep-alive connections the beacons share. Each visitor's browser would bring its own; a 202 waits
 * for its group commit's fsync, so too few connections would cap the rate at connections / fsync time.
 */
const CONNECTIONS = Number(process.env.BENCH_ENDURANCE_CONNECTIONS ?? 256)
const HOOKS_PER_S = 1
const SITE = 'shop.example.com'
const SCRAPE_TOKEN = 'bench-scrape-token'
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
/** What sendBeacon sends from a page on the site. */
const BEACON_HEADERS = { 'content-type': 'text/plain;charset=UTF-8', origin: `https://${SITE}`, 'user-agent': UA }
/** Beacons waiting for an answer beyond this are not sent (counted as skipped): the server is behind. */
const MAX_IN_FLIGHT = 5000

const pageview = (i: number) =>
  JSON.stringify({ site: SITE, width: 1280, events: [{ type: 'pageview', path: `/products/${i % 50}` }] })

/** What the snippet sends when a page is hidden: three vitals and a leave (ids unique per run). */
const flush = (tag: string, i: number) => {
  const path = `/products/${i % 50}`
  const vital = (name: string, value: number) => ({
    type: 'vital',
    path,
    name,
    value,
    id: `v5-${tag}-${i}-${name}`,
    nav: 'navigate',
  })
  return JSON.stringify({
    site: SITE,
    width: 390,
    events: [
      vital('LCP', 1800 + (i % 900)),
      vital('CLS', (i % 30) / 100),
      vital('INP', 80 + (i % 300)),
      { type: 'leave', path },
    ],
  })
}

/**
 * How much of the last 60 s some runnable task waited for a CPU (Linux pressure stall information,
 * %), or NaN. On a shared machine it says more about the noise than the load average does.
 */
export function cpuPressure(): number {
  try {
    const m = /^some avg10=[\d.]+ avg60=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))
    return m ? Number(m[1]) : Number.NaN
  } catch {
    return Number.NaN
  }
}

/** Median and p99 of a 4 KB write + fdatasync in `dir` (ms): what every 202 waits for, on this disk now. */
function fsyncMs(dir: string): { p50: number; p99: number } {
  const fd = openSync(join(dir, 'fsync-probe'), 'w')
  const times: number[] = []
  try {
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now()
      writeSync(fd, Buffer.alloc(4096, i))
      fdatasyncSync(fd)
      times.push(performance.now() - t0)
    }
  } finally {
    closeSync(fd)
  }
  times.sort((a, b) => a - b)
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) }
}

function rssKb(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

/** One value of the Prometheus text format (no labels). */
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)
  return m ? Number(m[1]) : NaN
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length
  if (n < 2) return NaN
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return num / den
}

interface Sample {
  /** Seconds since the load started. */
  t: number
  rssMb: number
  lagP99Ms: number
  lagMaxMs: number
  lagMeanMs: number
  heapUsedMb: number
  /** V8's heap as reserved (used and free). */
  heapTotalMb: number
  /** Memory of Buffers and other objects outside the V8 heap (socket and frame buffers). */
  externalMb: number
  /** RSS outside V8's heap and external buffers: SQLite's page cache, native code, thread stacks. */
  nativeMb: number
  /** Server CPU over the interval, % of one core. */
  cpuPct: number
  beaconsPerS: number
  hooks: number
}

/** Signed GitHub workflow_run deliveries, each a new run (a new build) on one of 20 branches. */
function makeDelivery(base: number, k: number): { body: Buffer; headers: Record<string, string> } {
  const fx = loadFixture('github', 'workflow_run-completed-success')
  const body = structuredClone(fx.body)
  body.workflow_run.id = base + k
  body.workflow_run.run_number = k + 1
  body.workflow_run.head_branch = k % 20 ? `feature/endurance-${k % 20}` : 'main'
  const raw = Buffer.from(JSON.stringify(body))
  return {
    body: raw,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': 'workflow_run',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', GITHUB_SECRET).update(raw).digest('hex')}`,
      'content-length': String(raw.length),
    },
  }
}

function post(
  agent: http.Agent,
  url: string,
  d: { body: Buffer; headers: Record<string, string> }
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: d.headers }, (res) => {
      let s = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (s += c))
      res.on('end', () => resolve({ status: res.statusCode!, body: s }))
    })
    req.on('error', reject)
    req.end(d.body)
  })
}

export async function benchEndurance(): Promise<string> {
  const before = { ...machine(), cpuPressure: cpuPressure() }
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-endurance-'))
  const fsync = fsyncMs(dir)
  const tag = `${process.pid}-${Date.now()}`
  let proc: Proc | null = null
  let clients: WsBench[] = []
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 })
  let pool: Pool | null = null
  try {
    proc = await startRadiator(dir, {
      SITES: SITE,
      COLLECT_PER_MINUTE: '0',
      METRICS_SCRAPE_TOKEN: SCRAPE_TOKEN,
      // The product's heartbeat (startRadiator turns it down for the latency parts).
      LIVE_HEARTBEAT_MS: '15000',
    })
    const url = proc.url
    const pid = proc.child.pid
    const wsUrl = `${url.replace('http', 'ws')}/live`
    clients = await openMany(CLIENTS, (i) => new WsBench(wsUrl, i === 0))
    const scrape = async () => {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${SCRAPE_TOKEN}` } })
      if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`)
      return res.text()
    }
    await scrape() // resets the event-loop histogram: the first sample covers its own interval only
    await sleep(1000)

    // Beacons: open loop, the schedule's due count sent every 10 ms over keep-alive connections.
    pool = new Pool(url, { connections: CONNECTIONS, pipelining: 1 })
    const beacon = {
      sent: 0,
      accepted: 0,
      other: {} as Record<number, number>,
      errors: 0,
      skipped: 0,
      inFlight: 0,
      pageviews: 0,
      flushes: 0,
      times: [] as number[],
    }
    const pending = new Set<Promise<void>>()
    const sendBeacon = (i: number) => {
      const isFlush = i % 2 === 1
      const t0 = performance.now()
      beacon.sent++
      beacon.inFlight++
      const p = pool!
        .request({
          path: '/api/collect',
          method: 'POST',
          headers: BEACON_HEADERS,
          body: isFlush ? flush(tag, i) : pageview(i),
        })
        .then(async (res) => {
          await res.body.dump()
          if (res.statusCode === 202) {
            beacon.accepted++
            if (isFlush) beacon.flushes++
            else beacon.pageviews++
            beacon.times.push(performance.now() - t0)
          } else beacon.other[res.statusCode] = (beacon.other[res.statusCode] ?? 0) + 1
        })
        .catch(() => {
          beacon.errors++
        })
        .finally(() => {
          beacon.inFlight--
          pending.delete(p)
        })
      pending.add(p)
    }

    // Deliveries: one a second, each answered before the next is due (else the next waits).
    const runBase = 8_000_000_000 + (Date.now() % 1_000_000) * 1000
    const hooks = { sent: 0, stored: [] as string[], other: [] as string[], times: [] as number[] }

    const start = performance.now()
    const end = start + DURATION_S * 1000
    const samples: Sample[] = []
    let last = { t: start, cpu: proc.cpuMs(), beacons: 0, hooks: 0 }
    let beaconIndex = 0
    const beaconTimer = setInterval(() => {
      const now = Math.min(performance.now(), end)
      const due = Math.floor(((now - start) / 1000) * BEACONS) - beaconIndex
      for (let k = 0; k < due; k++) {
        if (beacon.inFlight >= MAX_IN_FLIGHT) beacon.skipped++
        else sendBeacon(beaconIndex)
        beaconIndex++
      }
    }, 10)
    const hookLoop = (async () => {
      for (let k = 0; performance.now() < end; k++) {
        const due = start + (k * 1000) / HOOKS_PER_S
        if (due > performance.now()) await sleep(due - performance.now())
        if (performance.now() >= end) break
        const d = makeDelivery(runBase, k)
        hooks.sent++
        const t0 = performance.now()
        try {
          const r = await post(agent, `${url}/hooks/github`, d)
          hooks.times.push(performance.now() - t0)
          const json = r.status === 200 ? (JSON.parse(r.body) as { stored?: boolean; build?: string }) : null
          if (json?.stored && json.build) hooks.stored.push(json.build)
          else hooks.other.push(`${r.status} ${r.body.slice(0, 200)}`)
        } catch (e) {
          hooks.other.push(String(e))
        }
      }
    })()
    const sampleLoop = (async () => {
      for (let k = 1; ; k++) {
        const due = start + k * SAMPLE_S * 1000
        if (due > end + 1) break
        await sleep(due - performance.now())
        const text = await scrape()
        const now = performance.now()
        const cpu = proc!.cpuMs()
        const rssMb = rssKb(pid) / 1024
        const mb = (name: string) => metric(text, name) / 1024 / 1024
        samples.push({
          t: (now - start) / 1000,
          rssMb,
          lagP99Ms: metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
          lagMaxMs: metric(text, 'nodejs_eventloop_lag_max_seconds') * 1000,
          lagMeanMs: metric(text, 'nodejs_eventloop_lag_mean_seconds') * 1000,
          heapUsedMb: mb('nodejs_heap_size_used_bytes'),
          heapTotalMb: mb('nodejs_heap_size_total_bytes'),
          externalMb: mb('nodejs_external_memory_bytes'),
          nativeMb: rssMb - mb('nodejs_heap_size_total_bytes') - mb('nodejs_external_memory_bytes'),
          cpuPct: ((cpu - last.cpu) / (now - last.t)) * 100,
          beaconsPerS: ((beacon.accepted - last.beacons) * 1000) / (now - last.t),
          hooks: hooks.stored.length - last.hooks,
        })
        last = { t: now, cpu, beacons: beacon.accepted, hooks: hooks.stored.length }
      }
    })()
    const rss0 = rssKb(pid) / 1024
    await Promise.all([hookLoop, sampleLoop])
    clearInterval(beaconTimer)
    await Promise.all([...pending])
    // The last build events reach every client (a delivery's event is sent within ms of its 200).
    await sleep(2000)

    // ---- checks
    const problems: string[] = []
    const db = new Database(join(dir, 'radiator.db'), { readonly: true, fileMustExist: true })
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n
    const stored = {
      hits: count(`SELECT count(*) AS n FROM site_hits WHERE site = '${SITE}'`),
      samples: count(`SELECT count(*) AS n FROM site_samples WHERE site = '${SITE}'`),
      builds: count(`SELECT count(*) AS n FROM builds WHERE provider = 'github'`),
      deliveries: count(`SELECT count(*) AS n FROM deliveries WHERE provider = 'github' AND outcome = 'stored'`),
    }
    db.close()
    // One hit per beacon (a page view or a leave), three samples per flush.
    const expectedHits = beacon.pageviews + beacon.flushes
    const expectedSamples = beacon.flushes * 3
    if (stored.hits < expectedHits || stored.hits > expectedHits + beacon.errors)
      problems.push(`${beacon.accepted} beacons answered 202 (${expectedHits} hits) but ${stored.hits} hits stored`)
    if (stored.samples < expectedSamples || stored.samples > expectedSamples + 3 * beacon.errors)
      problems.push(
        `${beacon.flushes} vitals flushes answered 202 (${expectedSamples} samples) but ${stored.samples} stored`
      )
    if (Object.keys(beacon.other).length)
      problems.push(`beacon statuses other than 202: ${JSON.stringify(beacon.other)}`)
    if (beacon.errors) problems.push(`${beacon.errors} beacons failed (connection errors)`)
    if (hooks.other.length)
      problems.push(`${hooks.other.length} deliveries not stored: ${hooks.other.slice(0, 3).join('; ')}`)
    if (stored.builds !== hooks.stored.length || stored.deliveries !== hooks.stored.length)
      problems.push(
        `${hooks.stored.length} deliveries stored a build, the database has ${stored.builds} builds, ${stored.deliveries} stored deliveries`
      )

    const isBuild = (type: string) => type.startsWith('build.')
    const ref = clients[0]!.messages.filter((m) => isBuild(m.type))
    const refIds = ref.map((m) => m.id)
    const named = ref.map((m) => (JSON.parse(m.text!) as { data: { build: { id: string } } }).data.build.id)
    const want = new Set(hooks.stored)
    const seen = new Map<string, number>()
    for (const b of named) seen.set(b, (seen.get(b) ?? 0) + 1)
    const twice = [...seen].filter(([, n]) => n > 1)
    const missing = [...want].filter((b) => !seen.has(b))
    const extra = [...seen.keys()].filter((b) => !want.has(b))
    if (twice.length) problems.push(`client 0 got ${twice.length} builds' events more than once (${twice[0]![0]})`)
    if (missing.length) problems.push(`client 0 never got ${missing.length} stored builds' events (${missing[0]})`)
    if (extra.length) problems.push(`client 0 got events for ${extra.length} builds never stored (${extra[0]})`)
    if (new Set(refIds).size !== refIds.length) problems.push('client 0 got an event id twice')
    let differ = 0
    let closed = 0
    for (const [i, c] of clients.entries()) {
      if (c.closed) closed++
      if (i === 0) continue
      const ids = c.messages.filter((m) => isBuild(m.type)).map((m) => m.id)
      if (ids.length !== refIds.length || ids.some((id, k) => id !== refIds[k])) {
        if (differ === 0)
          problems.push(
            `client ${i} got build events ${ids.length} (first ${ids.slice(0, 3)}) vs client 0's ${refIds.length}`
          )
        differ++
      }
    }
    if (differ) problems.push(`${differ} clients' build events differ from client 0's`)
    if (closed) problems.push(`${closed} clients were disconnected`)

    for (const c of clients) c.close()
    clients = []
    await proc.stop()
    proc = null
    const after = { ...machine(), cpuPressure: cpuPressure() }

    // ---- figures
    const xs = samples.map((s) => s.t / 60)
    const ys = samples.map((s) => s.rssMb)
    const half = samples.filter((s) => s.t >= DURATION_S / 2)
    const slopeAll = slope(xs, ys)
    const slopeHalf = slope(
      half.map((s) => s.t / 60),
      half.map((s) => s.rssMb)
    )
    const first = samples[0]!
    const lastS = samples[samples.length - 1]!
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b)
    const bt = sorted(beacon.times)
    const ht = sorted(hooks.times)
    const lagMax = Math.max(...samples.map((s) => s.lagMaxMs))
    const lagP99s = sorted(samples.map((s) => s.lagP99Ms))
    const elapsed = (samples.length ? lastS.t : DURATION_S) || DURATION_S
    const summary = {
      durationS: DURATION_S,
      clients: CLIENTS,
      beaconsTarget: BEACONS,
      beacons: {
        ...beacon,
        times: undefined,
        rate: beacon.accepted / elapsed,
        p50: quantile(bt, 0.5),
        p99: quantile(bt, 0.99),
        max: bt.at(-1),
      },
      hooks: {
        sent: hooks.sent,
        stored: hooks.stored.length,
        p50: quantile(ht, 0.5),
        p99: quantile(ht, 0.99),
        max: ht.at(-1),
      },
      buildEventsPerClient: refIds.length,
      stored,
      rss: {
        beforeLoadMb: rss0,
        firstSampleMb: first.rssMb,
        endMb: lastS.rssMb,
        slopeMbPerMin: slopeAll,
        slopeSecondHalfMbPerMin: slopeHalf,
      },
      lag: { maxMs: lagMax, p99MedianMs: quantile(lagP99s, 0.5), p99WorstMs: lagP99s.at(-1) },
      problems,
    }
    const json = writeJson('endurance', { machine: { before, after, fsyncMs: fsync }, summary, samples })
    // Every sample of a short run; one a minute (and the first and last) of a long one.
    const every = samples.length <= 12 ? 1 : Math.max(1, Math.round(60 / SAMPLE_S))
    const shown = samples.filter((_, i) => i % every === every - 1 || i === 0 || i === samples.length - 1)
    const lines = [
      `\nEndurance: ${DURATION_S} s of ${BEACONS} beacons/s (open loop, ${CONNECTIONS} connections), ${HOOKS_PER_S} signed GitHub delivery/s and ${CLIENTS} live WebSocket clients; Radiator in its own process, sampled every ${SAMPLE_S} s (${before.cores} cores, load ${before.load1} before, ${after.load1} after; CPU pressure ${before.cpuPressure} % before, ${after.cpuPressure} % after: the share of the last minute something waited for a CPU; a 4 KB write + fdatasync took ${ms(fsync.p50)} ms, p99 ${ms(fsync.p99)} ms)`,
      mdTable(
        ['', 'figure'],
        [
          [
            'RSS before load → first sample → end',
            `${rss0.toFixed(1)} → ${first.rssMb.toFixed(1)} → ${lastS.rssMb.toFixed(1)} MB`,
          ],
          [
            'RSS trend (least squares, whole run / second half)',
            `${slopeAll.toFixed(2)} / ${slopeHalf.toFixed(2)} MB/min`,
          ],
          [
            'V8 heap used / heap reserved / external, first → end',
            `${first.heapUsedMb.toFixed(1)} / ${first.heapTotalMb.toFixed(1)} / ${first.externalMb.toFixed(1)} → ${lastS.heapUsedMb.toFixed(1)} / ${lastS.heapTotalMb.toFixed(1)} / ${lastS.externalMb.toFixed(1)} MB`,
          ],
          [
            'RSS outside the V8 heap and external buffers (SQLite page cache, native) first → end',
            `${first.nativeMb.toFixed(1)} → ${lastS.nativeMb.toFixed(1)} MB`,
          ],
          [
            'event-loop delay p99 per interval: first, end, median, worst',
            `${ms(first.lagP99Ms)}, ${ms(lastS.lagP99Ms)}, ${ms(quantile(lagP99s, 0.5))}, ${ms(lagP99s.at(-1)!)} ms`,
          ],
          ['event-loop delay max (any interval)', `${ms(lagMax)} ms`],
          [
            'beacons answered 202 (rate)',
            `${beacon.accepted.toLocaleString('en')} (${(beacon.accepted / elapsed).toFixed(0)}/s); ${beacon.skipped} skipped (server behind), ${beacon.errors} errors`,
          ],
          [
            'beacon answer p50 / p99 / max',
            `${ms(quantile(bt, 0.5))} / ${ms(quantile(bt, 0.99))} / ${ms(bt.at(-1) ?? NaN)} ms`,
          ],
          [
            'deliveries stored / sent; answer p50 / p99 / max',
            `${hooks.stored.length} / ${hooks.sent}; ${ms(quantile(ht, 0.5))} / ${ms(quantile(ht, 0.99))} / ${ms(ht.at(-1) ?? NaN)} ms`,
          ],
          [
            'stored in the database',
            `${stored.hits.toLocaleString('en')} hits, ${stored.samples.toLocaleString('en')} samples, ${stored.builds} builds`,
          ],
          ['build events per client', `${refIds.length}`],
          [
            'check',
            problems.length
              ? `FAILED: ${problems.join('; ')}`
              : 'every 202 stored, every delivery stored, every client every build event once',
          ],
        ]
      ),
      mdTable(
        [
          't s',
          'RSS MB',
          'heap used MB',
          'heap reserved MB',
          'external MB',
          'outside heap MB',
          'loop p99 ms',
          'loop max ms',
          'CPU %',
          'beacons/s',
          'deliveries',
        ],
        shown.map((s) => [
          s.t.toFixed(0),
          s.rssMb.toFixed(1),
          s.heapUsedMb.toFixed(1),
          s.heapTotalMb.toFixed(1),
          s.externalMb.toFixed(1),
          s.nativeMb.toFixed(1),
          ms(s.lagP99Ms),
          ms(s.lagMaxMs),
          s.cpuPct.toFixed(0),
          s.beaconsPerS.toFixed(0),
          s.hooks,
        ])
      ),
      `JSON: ${json}`,
    ]
    if (problems.length) throw new Error(`${lines.join('\n')}\nendurance: ${problems.join('; ')}`)
    return lines.join('\n')
  } finally {
    for (const c of clients) c.close()
    await pool?.close()
    agent.destroy()
    await proc?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchEndurance())
