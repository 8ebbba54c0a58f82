/**
 * `npm run bench:collect`: the beacon path against a bare endpoint, and summaries over 10 million
 * stored samples.
 *
 * 1. Throughput. Each server runs in a child process (so the load generator doesn't share its event
 *    loop), driven from here over keep-alive loopback connections, the variants taking turns in short
 *    slices: a bare Hono endpoint on the same @hono/node-server that reads and JSON-parses the same
 *    bodies and answers 202 without writing (the baseline), the same plus the zod schema Radiator
 *    validates with (to show what validation alone costs), then Radiator's real POST /api/collect,
 *    which answers 202 only once the COMMIT is on disk (the WAL fdatasync'd). The stored rows are
 *    counted after every slice and must equal the 202s. Radiator serves that route on node:http
 *    before Hono, so the same read + JSON.parse + 202 on node:http alone is measured too: the
 *    stricter baseline, reported on its own line.
 * 2. Summary latency: 10 million samples written straight into a Radiator database (one
 *    INSERT … SELECT over a recursive CTE per million), rolled up by the product's own rollup job,
 *    then every window of GET /api/sites/:site/summary timed against the real server, one request
 *    at a time (25 each; median, p95, max).
 *
 * Child mode (internal): `tsx bench/collect.ts --serve bare|bare-zod|bare-node|radiator <dataDir>`.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { hasWrk, wrkLoad } from './wrk.ts'

const SITE = 'shop.example.com'
const ORIGIN = `https://${SITE}`
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 10_000_000)
const SELF = fileURLToPath(import.meta.url)
/** What sendBeacon sends from a page on the site. */
const HEADERS = { 'content-type': 'text/plain;charset=UTF-8', origin: ORIGIN, 'user-agent': UA }
/** wrk when installed (`apt-get install wrk`), else undici in this process; BENCH_LOAD=undici forces it. */
const USE_WRK = process.env.BENCH_LOAD !== 'undici' && hasWrk()

// ---------------------------------------------------------------------------------------------
// Child processes

async function serve(kind: string, dataDir: string): Promise<void> {
  const { serve: listen } = await import('@hono/node-server')
  const { Hono } = await import('hono')
  if (kind === 'bare' || kind === 'bare-zod') {
    const { collectBody } = await import('../contract/metrics.ts')
    const app = new Hono()
    app.post('/api/collect', async (c) => {
      const json = JSON.parse(await c.req.text())
      if (kind === 'bare-zod' && !collectBody.safeParse(json).success) return c.body(null, 400)
      return c.body(null, 202)
    })
    const server = listen({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      process.send!({ port: info.port })
    )
    stopOnMessage(server)
    return
  }
  if (kind === 'bare-node') {
    // Radiator answers POST /api/collect on node:http before Hono (server/http/node-routes.ts), so
    // the strictest baseline is the same read + JSON.parse + 202 on node:http alone.
    const { createServer } = await import('node:http')
    const server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'))
        res.writeHead(202).end()
      })
    })
    server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }))
    stopOnMessage(server)
    return
  }
  const { configFrom } = await import('../server/config.ts')
  const { createLogger } = await import('../server/log.ts')
  const { startServer } = await import('../server/server.ts')
  const { capabilities } = await import('../server/capabilities.ts')
  const config = configFrom({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    SITES: SITE,
    COLLECT_PER_MINUTE: '0',
  })
  const s = await startServer(config, createLogger(config.LOG_LEVEL), capabilities)
  process.send!({ port: s.port })
  process.on('message', async (m) => {
    if (m === 'count') {
      // wrk leaves requests in flight when it stops: let them land first (their bodies are read
      // within a few ms; an empty write then resolves after every write queued before it).
      await new Promise((r) => setTimeout(r, 50))
      await s.writer.write(() => undefined)
      const q = (sql: string) => (s.store.sqlite.prepare(sql).get() as { n: number }).n
      process.send!({
        hits: q('SELECT count(*) AS n FROM site_hits'),
        samples: q('SELECT count(*) AS n FROM site_samples'),
        cpu: cpuMs(),
        batches: s.writer.stats.batches,
      })
    }
    if (m === 'stop') {
      await s.close()
      process.exit(0)
    }
  })
}

/** A baseline server's side of the parent's protocol: it stores nothing, so only its CPU counts. */
function stopOnMessage(server: { close(cb: () => void): unknown }) {
  process.on('message', (m) => {
    if (m === 'count') process.send!({ hits: 0, samples: 0, cpu: cpuMs(), batches: 0 })
    if (m === 'stop') server.close(() => process.exit(0))
  })
}

/**
 * The process's CPU (every thread: the WAL sync on libuv's pool, V8's GC helpers), user and kernel
 * apart: kernel time (the loopback, epoll, the WAL writes and fdatasync) is where machines of the
 * same kind differ most.
 */
const cpuMs = () => {
  const u = process.cpuUsage()
  return { user: u.user / 1000, system: u.system / 1000 }
}

interface Counts {
  hits: number
  samples: number
  /** CPU time the server process has used (ms): per request, the number the machine's noise hurts least. */
  cpu: { user: number; system: number }
  batches: number
}

interface Child {
  url: string
  ask<T>(msg: string): Promise<T>
  stop(): Promise<void>
}

async function child(kind: Variant['server'], dataDir: string): Promise<Child> {
  const prof = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []
  const c = fork(SELF, ['--serve', kind, dataDir], { execArgv: ['--import', 'tsx', ...prof], stdio: 'inherit' })
  const port = await new Promise<number>((r) => c.once('message', (m: { port: number }) => r(m.port)))
  return {
    url: `http://127.0.0.1:${port}`,
    ask: <T>(msg: string) =>
      new Promise<T>((r) => {
        c.once('message', (m) => r(m as T))
        c.send(msg)
      }),
    stop: async () => {
      c.send('stop')
      await new Promise((r) => c.once('exit', r))
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Load

interface LoadResult {
  requests: number
  seconds: number
  rps: number
  statuses: Record<number, number>
  errors: number
}

/**
 * Closed loop: `connections` keep-alive connections (an undici Pool, lighter on the shared CPU
 * than node:http's client), each sending its next request when the answer arrives. Bodies come
 * from `body(i)` so every vitals id is distinct (a repeated id would be an update, not a new sample).
 */
async function load(url: string, body: (i: number) => string, seconds: number): Promise<LoadResult> {
  const u = new URL(url)
  if (u.hostname !== '127.0.0.1') throw new Error('benchmarks only target loopback')
  const pool = new Pool(u.origin, { connections: CONNECTIONS, pipelining: 1 })
  const statuses: Record<number, number> = {}
  let requests = 0
  let errors = 0
  let n = 0
  const end = Date.now() + seconds * 1000
  const t0 = Date.now()
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        try {
          const res = await pool.request({
            path: u.pathname,
            method: 'POST',
            headers: HEADERS,
            body: body(n++),
          })
          await res.body.dump()
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
          requests++
        } catch {
          errors++
        }
      }
    })
  )
  const elapsed = (Date.now() - t0) / 1000
  await pool.close()
  return { requests, seconds: elapsed, rps: requests / elapsed, statuses, errors }
}

const pageview = (i: number) =>
  JSON.stringify({ site: SITE, width: 1280, events: [{ type: 'pageview', path: `/products/${i % 50}` }] })

/** What the snippet sends when a page is hidden: the vitals it holds and a leave. */
const flush = (i: number) =>
  JSON.stringify({
    site: SITE,
    width: 390,
    events: [
      {
        type: 'vital',
        path: `/products/${i % 50}`,
        name: 'LCP',
        value: 1800 + (i % 900),
        id: `v5-${i}-lcp`,
        nav: 'navigate',
      },
      {
        type: 'vital',
        path: `/products/${i % 50}`,
        name: 'CLS',
        value: (i % 30) / 100,
        id: `v5-${i}-cls`,
        nav: 'navigate',
      },
      {
        type: 'vital',
        path: `/products/${i % 50}`,
        name: 'INP',
        value: 80 + (i % 300),
        id: `v5-${i}-inp`,
        nav: 'navigate',
      },
      { type: 'leave', path: `/products/${i % 50}` },
    ],
  })

/** The same two bodies as Lua expressions for wrk (`n` counts per thread, `tag` is unique per run). */
const LUA_PATH = `'/products/' .. (n % 50)`
const luaPageview = `'{"site":"${SITE}","width":1280,"events":[{"type":"pageview","path":"' .. ${LUA_PATH} .. '"}]}'`
const luaVital = (name: string, value: string) =>
  `'{"type":"vital","path":"' .. ${LUA_PATH} .. '","name":"${name}","value":' .. (${value}) .. ',"id":"v5-' .. tag .. '-' .. n .. '-${name}","nav":"navigate"}'`
const luaFlush = `'{"site":"${SITE}","width":390,"events":[' .. ${luaVital('LCP', '1800 + n % 900')} .. ',' .. ${luaVital('CLS', '(n % 30) / 100')} .. ',' .. ${luaVital('INP', '80 + n % 300')} .. ',{"type":"leave","path":"' .. ${LUA_PATH} .. '"}]}'`

interface Variant {
  name: string
  server: 'bare' | 'bare-zod' | 'bare-node' | 'radiator'
  body: (i: number) => string
  lua: string
  /** Rows one accepted beacon stores (checked against the 202s). */
  rows: { hits: number; samples: number }
}

const VARIANTS: Variant[] = [
  {
    name: 'bare Hono: read + JSON.parse, 202 (baseline)',
    server: 'bare',
    body: pageview,
    lua: luaPageview,
    rows: { hits: 0, samples: 0 },
  },
  {
    name: 'bare Hono + zod validation, 202',
    server: 'bare-zod',
    body: pageview,
    lua: luaPageview,
    rows: { hits: 0, samples: 0 },
  },
  {
    name: 'bare Hono, the vitals flush body (baseline)',
    server: 'bare',
    body: flush,
    lua: luaFlush,
    rows: { hits: 0, samples: 0 },
  },
  {
    name: 'Radiator /api/collect: page view (vs 1st)',
    server: 'radiator',
    body: pageview,
    lua: luaPageview,
    rows: { hits: 1, samples: 0 },
  },
  {
    name: 'Radiator /api/collect: 3 vitals + leave (vs 3rd)',
    server: 'radiator',
    body: flush,
    lua: luaFlush,
    rows: { hits: 1, samples: 3 },
  },
  {
    name: 'bare node:http: read + JSON.parse, 202',
    server: 'bare-node',
    body: pageview,
    lua: luaPageview,
    rows: { hits: 0, samples: 0 },
  },
  {
    name: 'bare node:http, the vitals flush body',
    server: 'bare-node',
    body: flush,
    lua: luaFlush,
    rows: { hits: 0, samples: 0 },
  },
]

/**
 * What one durable COMMIT costs on this disk right now (median of 200, synchronous=FULL). On a
 * shared VM it swings with the neighbours' I/O, and Radiator's throughput with it.
 */
async function commitMs(): Promise<number> {
  const { openStore } = await import('../server/db/client.ts')
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-fsync-'))
  const store = openStore(join(dir, 'radiator.db'))
  store.sqlite.pragma('synchronous = FULL') // the fsync inside COMMIT, as a plain SQLite setup would do it
  try {
    const set = store.sqlite.prepare(
      "INSERT INTO meta (key, value) VALUES ('probe', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
    )
    const commit = store.sqlite.transaction((i: number) => set.run(String(i)))
    const times: number[] = []
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now()
      commit(i)
      times.push(performance.now() - t0)
    }
    return times.sort((a, b) => a - b)[100]!
  } finally {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

interface Totals {
  requests: number
  seconds: number
  ok: number
  errors: number
  statuses: Record<number, number>
  cpuMs: number
  /** Of cpuMs, in the kernel. */
  sysMs: number
  commits: number
  hits: number
  samples: number
  /** wrk's answer-time percentiles per slice (µs). */
  p50s: number[]
  p99s: number[]
  /** Beacons stored whose 202 wrk never read (it stops with requests in flight). */
  unacked: number
  mismatches: string[]
  /** requests/s of each slice, in slice order (paired with the baseline's slice of the same turn). */
  slices: number[]
}

const SLICES = Number(process.env.BENCH_SLICES ?? 10)
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? SECONDS / 5)

export async function benchCollect(): Promise<string> {
  // Every server is started up front and they take turns in short slices (the starting variant
  // rotates each turn). On a shared VM the CPU's speed drifts over seconds; slices spread that
  // drift evenly over the variants, where whole runs one after another compared a fast minute with
  // a slow one. Each variant's ratio is also taken per turn against the baseline's slice of the
  // same turn, and the median of those is reported beside the ratio of totals.
  const only = process.env.BENCH_ONLY?.split(',').map(Number)
  const variants = only ? VARIANTS.filter((_, i) => only.includes(i)) : VARIANTS
  const fsyncMs = await commitMs()
  const dirs = variants.map(() => mkdtempSync(join(tmpdir(), 'radiator-bench-')))
  const children = await Promise.all(variants.map((v, i) => child(v.server, dirs[i]!)))
  const totals: Totals[] = variants.map(() => ({
    requests: 0,
    seconds: 0,
    ok: 0,
    errors: 0,
    statuses: {},
    cpuMs: 0,
    sysMs: 0,
    commits: 0,
    hits: 0,
    samples: 0,
    p50s: [],
    p99s: [],
    unacked: 0,
    mismatches: [],
    slices: [],
  }))
  let next = 0
  try {
    for (const [i, v] of variants.entries())
      await load(`${children[i]!.url}/api/collect`, (k) => v.body(k + 1e9 + i * 1e8), 1) // warm-up
    for (let turn = 0; turn < SLICES; turn++)
      for (let k = 0; k < variants.length; k++) {
        const i = (turn + k) % variants.length
        const v = variants[i]!
        const c = children[i]!
        const t = totals[i]!
        const before = await c.ask<Counts>('count')
        const r: LoadResult & { p50?: number; p99?: number } = USE_WRK
          ? await wrkLoad({
              url: `${c.url}/api/collect`,
              headers: HEADERS,
              body: v.lua,
              tag: `t${turn}v${i}`,
              connections: CONNECTIONS,
              seconds: SLICE_SECONDS,
            })
          : await load(`${c.url}/api/collect`, (n) => v.body(next + n), SLICE_SECONDS)
        next += r.requests + r.errors + CONNECTIONS
        const after = await c.ask<Counts>('count')
        t.requests += r.requests
        t.seconds += r.seconds
        t.errors += r.errors
        t.ok += r.statuses[202] ?? 0
        for (const [code, n] of Object.entries(r.statuses))
          t.statuses[Number(code)] = (t.statuses[Number(code)] ?? 0) + n
        t.cpuMs += after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system
        t.sysMs += after.cpu.system - before.cpu.system
        t.commits += after.batches - before.batches
        const hits = after.hits - before.hits
        const samples = after.samples - before.samples
        t.hits += hits
        t.samples += samples
        t.slices[turn] = r.rps
        if (r.p50 !== undefined && r.p99 !== undefined) {
          t.p50s.push(r.p50)
          t.p99s.push(r.p99)
        }
        if (v.server === 'radiator') {
          // Every 202 must be stored. wrk stops mid-flight: up to one beacon per connection was
          // written but its answer never read, so those may be stored beyond the 202s, no more.
          const acked = r.statuses[202] ?? 0
          const stored = hits / v.rows.hits
          t.unacked += stored - acked
          if (stored < acked || stored - acked > (USE_WRK ? CONNECTIONS : 0) || samples !== stored * v.rows.samples)
            t.mismatches.push(`turn ${turn}: ${acked} × 202 but ${hits} hits, ${samples} samples`)
        }
      }
  } finally {
    await Promise.all(children.map((c) => c.stop()))
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }

  // Each variant is compared with the bare endpoint parsing the same body (the issue's baseline).
  const baseOf = (v: Variant) =>
    totals[
      Math.max(
        0,
        variants.findIndex((b) => b.server === 'bare' && b.body === v.body)
      )
    ]!
  const rps = (t: Totals) => t.requests / t.seconds
  const cpuUs = (t: Totals) => (t.cpuMs * 1000) / t.requests
  const sysUs = (t: Totals) => (t.sysMs * 1000) / t.requests
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  /** The median of each turn's ratio to the baseline's slice of the same turn. */
  const perTurnRatio = (t: Totals, base: Totals) => median(t.slices.map((x, turn) => x / base.slices[turn]!))
  const lines = [
    `\nPOST /api/collect vs a bare endpoint: ${SLICES} turns of ${SLICE_SECONDS}s slices per variant, ${CONNECTIONS} keep-alive loopback connections from ${USE_WRK ? 'wrk' : 'undici (install wrk for a load generator that leaves the server its own core)'}, each server in its own process; one durable COMMIT alone takes ${fsyncMs.toFixed(2)} ms on this disk now`,
    `${'variant'.padEnd(50)} ${'req/s'.padStart(7)} ${'ratio'.padStart(6)} ${'per-turn'.padStart(9)} ${'CPU/req'.padStart(8)} ${'user+sys'.padStart(9)} ${'ratio'.padStart(6)} ${'/COMMIT'.padStart(8)} ${'syncs/s'.padStart(8)} ${'p50/p99 ms'.padStart(11)}  check`,
  ]
  let durable = 0
  for (const [i, v] of variants.entries()) {
    const t = totals[i]!
    const base = baseOf(v)
    const perTurn = perTurnRatio(t, base)
    const rowsOk = t.mismatches.length === 0
    const check =
      v.server !== 'radiator'
        ? `${t.ok} × 202`
        : rowsOk
          ? `every 202 stored (${t.hits} hits, ${t.samples} samples${t.unacked ? `; ${t.unacked} more in flight when wrk stopped` : ''})`
          : `ROW COUNT MISMATCH: ${t.mismatches.join('; ')}`
    if (v.server === 'radiator' && rowsOk) durable = Math.max(durable, rps(t))
    const other = Object.keys(t.statuses).filter((c) => c !== '202')
    lines.push(
      [
        v.name.padEnd(50),
        rps(t).toFixed(0).padStart(7),
        `${(rps(t) / rps(base)).toFixed(2)}×`.padStart(6),
        `${perTurn.toFixed(2)}×`.padStart(9),
        `${cpuUs(t).toFixed(0)} µs`.padStart(8),
        `${(cpuUs(t) - sysUs(t)).toFixed(0)}+${sysUs(t).toFixed(0)}`.padStart(9),
        `${(cpuUs(base) / cpuUs(t)).toFixed(2)}×`.padStart(6),
        (t.commits ? (t.ok / t.commits).toFixed(1) : '-').padStart(8),
        (t.commits ? (t.commits / t.seconds).toFixed(0) : '-').padStart(8),
        (t.p50s.length ? `${(median(t.p50s) / 1000).toFixed(1)}/${(median(t.p99s) / 1000).toFixed(1)}` : '-').padStart(
          11
        ),
        ` ${check}${other.length ? ` other statuses ${JSON.stringify(t.statuses)}` : ''}${t.errors ? ` ${t.errors} errors` : ''}`,
      ].join(' ')
    )
  }
  // The stricter comparison: Radiator's collect runs on node:http, not through Hono's adapter.
  const strict = variants.flatMap((v, i) => {
    const b = variants.findIndex((n) => n.server === 'bare-node' && n.body === v.body)
    if (v.server !== 'radiator' || b < 0) return []
    const [t, base] = [totals[i]!, totals[b]!]
    const perTurn = perTurnRatio(t, base)
    return [
      `${v.name.replace(/ \(vs .*\)$/, '')} ${(rps(t) / rps(base)).toFixed(2)}× (per turn ${perTurn.toFixed(2)}×, CPU ${(cpuUs(base) / cpuUs(t)).toFixed(2)}×)`,
    ]
  })
  if (strict.length) lines.push(`against bare node:http with the same body: ${strict.join('; ')}`)
  lines.push(
    `best durable beacons/s: ${durable.toFixed(0)} (rows counted after every slice); CPU/req: the server process's CPU per answer, every thread, user+sys in µs (sys: the kernel's part: loopback, epoll, WAL writes and syncs); /COMMIT: 202s per COMMIT, syncs/s: COMMITs (one WAL sync each) a second; p50/p99: wrk's answer times, median over the slices`
  )
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Summary latency over many stored samples

const DAY = 86_400_000
const PATHS = 50
/** A backlog is rolled up in larger transactions than live traffic (5000 rows), as after downtime. */
const ROLL_BATCH = 50_000

/**
 * Inserts `n` samples (and a page view per five samples) spread evenly over the last 28 days, in
 * arrival order as the collect endpoint would have written them: one INSERT … SELECT over a
 * recursive CTE per million rows. Values are skewed so every rating occurs.
 */
function generate(sqlite: import('../server/db/client.ts').Sqlite, n: number, end: number) {
  const span = 28 * DAY
  const thresholds = (i: 0 | 1) =>
    `CASE metric WHEN 'LCP' THEN ${[2500, 4000][i]} WHEN 'INP' THEN ${[200, 500][i]} WHEN 'CLS' THEN ${[0.1, 0.25][i]} WHEN 'FCP' THEN ${[1800, 3000][i]} ELSE ${[800, 1800][i]} END`
  const samples = sqlite.prepare(`
    WITH RECURSIVE seq(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM seq WHERE i < @to),
    s AS (
      SELECT i,
        CASE i % 5 WHEN 0 THEN 'LCP' WHEN 1 THEN 'INP' WHEN 2 THEN 'CLS' WHEN 3 THEN 'FCP' ELSE 'TTFB' END AS metric,
        (abs(random()) % 10000) / 10000.0 AS u,
        CASE abs(random()) % 3 WHEN 0 THEN 'mobile' WHEN 1 THEN 'tablet' ELSE 'desktop' END AS device
      FROM seq),
    v AS (
      SELECT *, CASE metric WHEN 'LCP' THEN 600 + u * u * 6000 WHEN 'INP' THEN 40 + u * u * 800
        WHEN 'CLS' THEN u * u * 0.5 WHEN 'FCP' THEN 400 + u * u * 4000 ELSE 50 + u * u * 2500 END AS value
      FROM s)
    INSERT INTO site_samples (site, path, metric, value, rating, nav, device, vid, prev, at)
    SELECT @site, '/products/' || (i % ${PATHS}), metric, value,
      CASE WHEN value <= ${thresholds(0)} THEN 'good' WHEN value <= ${thresholds(1)} THEN 'needs-improvement' ELSE 'poor' END,
      'navigate', device, 'g' || i, NULL, @start + i * @step
    FROM v`)
  const hits = sqlite.prepare(`
    WITH RECURSIVE seq(i) AS (SELECT @from UNION ALL SELECT i + 1 FROM seq WHERE i < @to)
    INSERT INTO site_hits (site, visitor, kind, path, device, at)
    SELECT @site, 'v' || (i % 5000), 'pageview', '/products/' || (abs(random()) % ${PATHS}),
      CASE abs(random()) % 3 WHEN 0 THEN 'mobile' WHEN 1 THEN 'tablet' ELSE 'desktop' END, @start + i * @step
    FROM seq`)
  const CHUNK = 1_000_000
  for (let from = 0; from < n; from += CHUNK) {
    const to = Math.min(n, from + CHUNK) - 1
    sqlite.transaction(() => {
      samples.run({ from, to, site: SITE, start: end - span, step: span / n })
      hits.run({ from: from / 5, to: Math.floor(to / 5), site: SITE, start: end - span, step: (span * 5) / n })
    })()
  }
}

export async function benchSummary(): Promise<string> {
  const { openStore } = await import('../server/db/client.ts')
  const { Writer } = await import('../server/db/writer.ts')
  const { Roller } = await import('../server/metrics/rollups.ts')
  const { registerHistogramFunctions } = await import('../server/db/sqlite-functions.ts')
  const { configFrom } = await import('../server/config.ts')
  const { createLogger } = await import('../server/log.ts')
  const { startServer } = await import('../server/server.ts')
  const { capabilities } = await import('../server/capabilities.ts')
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-summary-'))
  try {
    const store = openStore(join(dir, 'radiator.db'))
    const sqlite = store.sqlite
    registerHistogramFunctions(sqlite)
    const end = Date.now()
    sqlite.pragma('synchronous = OFF') // setup only; the timed reads don't write
    let t = performance.now()
    generate(sqlite, SAMPLES, end)
    const genS = (performance.now() - t) / 1000
    sqlite.pragma('synchronous = FULL')
    const writer = new Writer(sqlite, store.syncWal)
    t = performance.now()
    await new Roller(sqlite, writer, ROLL_BATCH).catchUp()
    const rollS = (performance.now() - t) / 1000
    await writer.close()
    const count = (sql: string) => (sqlite.prepare(sql).get() as { n: number }).n
    const stored = count('SELECT count(*) AS n FROM site_samples')
    const rollups = count('SELECT count(*) AS n FROM site_rollups')
    store.close()

    // The real server on that database, asked over HTTP one request at a time.
    const config = configFrom({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATA_DIR: dir,
      SITES: SITE,
      PUBLIC_DASHBOARD: 'true',
    })
    const server = await startServer(config, createLogger(config.LOG_LEVEL), capabilities)
    const lines = [
      `\nGET /api/sites/:site/summary over ${stored.toLocaleString('en')} stored samples (${PATHS} pages, 3 devices, 28 days; ${rollups.toLocaleString('en')} rollup rows)`,
      `  generated in ${genS.toFixed(1)} s; rolled up by the rollup job (${ROLL_BATCH.toLocaleString('en')} rows per transaction) in ${rollS.toFixed(1)} s, ${Math.round(stored / rollS).toLocaleString('en')} samples/s`,
      `${'  window / device'.padEnd(24)} ${'median'.padStart(9)} ${'p95'.padStart(9)} ${'max'.padStart(9)}   samples in window`,
    ]
    try {
      for (const window of ['5m', '1h', '24h', '7d', '28d'] as const)
        for (const device of [null, 'mobile'] as const) {
          const url = `${server.url}/api/sites/${SITE}/summary?window=${window}${device ? `&device=${device}` : ''}`
          const times: number[] = []
          let samples = 0
          for (let i = 0; i < 25; i++) {
            const t0 = performance.now()
            const res = await fetch(url)
            const s = (await res.json()) as { vitals: Record<string, { samples: number }> }
            times.push(performance.now() - t0)
            samples = Object.values(s.vitals).reduce((a, v) => a + v.samples, 0)
          }
          times.sort((a, b) => a - b)
          const ms = (v: number) => `${v.toFixed(1)} ms`.padStart(9)
          lines.push(
            `  ${`${window} / ${device ?? 'all'}`.padEnd(22)} ${ms(times[12]!)} ${ms(times[23]!)} ${ms(times[24]!)}   ${samples.toLocaleString('en')}`
          )
        }
    } finally {
      await server.close()
    }
    return lines.join('\n')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------

if (process.argv[2] === '--serve') {
  await serve(process.argv[3]!, process.argv[4]!)
} else if (process.argv[1] && SELF === process.argv[1]) {
  const only = process.argv[2]
  if (only !== 'summary') console.log(await benchCollect())
  if (only !== 'throughput') console.log(await benchSummary())
}
