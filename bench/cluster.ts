/**
 * `npm run bench -- cluster`: what running Radiator as a cluster (issue 17) costs, against Radiator
 * alone on SQLite measured in the same run, the setups taking turns slice by slice and round by round:
 * - SQLite, one instance: the baseline, as every other part runs it;
 * - PostgreSQL + NATS JetStream, one instance (DATABASE_URL, LIVE_BUS_URL, LIVE_STREAM_NAME);
 * - the same, three instances behind nginx running deploy/cluster/nginx.conf (round robin).
 * Each cluster gets a fresh database and a stream name of its own (server/test/cluster.ts).
 *
 * On 2 cores three instances cannot add throughput: the point is the cost per request and the time
 * to truth across instances, not more requests per second.
 * - Ingest (bench/ingest.ts's load): signed GitHub deliveries stored per second, over wrk's slice
 *   and the time what it left in flight takes to land, and the CPU each costs summed over the
 *   Radiator processes. PostgreSQL's backends for this database (processes whose title names it)
 *   and nginx are counted apart; PostgreSQL's shared processes (WAL writer, checkpointer) are not.
 *   NATS is one shared server: its whole-process CPU is shown, and includes anything else using it
 *   at the time. Also each setup's CPU when idle, and where the PostgreSQL writers' transactions
 *   spend the slices (sampled from pg_stat_activity). Check: every 200 stored, counted in the
 *   setup's own database.
 * - Time to truth (bench/fanout.ts's rounds): a generic delivery POSTed (through nginx for three, so
 *   to any instance) → every WebSocket client has its build.finished; the clients are connected
 *   through nginx for three, so spread over the instances (each instance's count is shown). Check:
 *   every client got the same frames once and in order, the build the POST stored; every delivery
 *   acknowledged is stored.
 *
 * The machine is shared: every table says the one-minute load before and after, and each row the
 * median load over its own slices or rounds.
 *
 * Env: the sizes of ingest and fanout (BENCH_INGEST_SLICES, BENCH_INGEST_CONNECTIONS, BENCH_ROUNDS,
 * BENCH_WARMUP), BENCH_CLUSTER_SLICE_SECONDS (4), BENCH_CLUSTER_BODIES (40000) and
 * BENCH_CLUSTER_LEVELS (100,1000: WebSocket clients per setup; 0 skips time to truth).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { type TestCluster, testCluster } from '../server/test/cluster.ts'
import { clusterNginxConfig, NGINX } from '../server/test/proxies.ts'
import { SERVICES } from '../server/test/services.ts'
import { type BenchClient, openMany, WsBench } from './clients.ts'
import { orderedIds, ROUNDS, type RoundResult, round, type Row, summarize, type Variant, WARMUP } from './fanout.ts'
import { CONNECTIONS, loadSigned, SLICES, STORED_SQL, storedMismatch, writeBodies } from './ingest.ts'
import {
  freePort,
  machine,
  mdTable,
  median,
  ms,
  type Proc,
  procCpuMs,
  sleep,
  startRadiator,
  writeJson,
} from './procs.ts'
import { hasWrk } from './wrk.ts'

/** Longer than ingest's 2 s: a setup that answers slower must reach its steady state within a slice. */
const SLICE_SECONDS = Number(process.env.BENCH_CLUSTER_SLICE_SECONDS ?? 4)
/**
 * Every delivery a new build, on SQLite too: a repeat of a used body stores a delivery that changes
 * nothing and costs half as much, which would flatter the baseline. SQLite alone took 1,415 a
 * second at load 2.6 (28,664 in its 5 × 4 s and warm-up): 40,000 leaves room (880 MB of bodies in wrk).
 */
const BODIES = Number(process.env.BENCH_CLUSTER_BODIES ?? 40_000)
const LEVELS = (process.env.BENCH_CLUSTER_LEVELS ?? '100,1000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
const GENERIC_STORED = `SELECT count(*) AS n FROM deliveries WHERE provider = 'generic' AND outcome = 'stored'`

type Key = 'sqlite' | 'pg1' | 'pg3'
const NAMES: Record<Key, string> = {
  sqlite: 'SQLite, 1 instance (baseline)',
  pg1: 'PostgreSQL + NATS, 1 instance',
  pg3: 'PostgreSQL + NATS, 3 instances behind nginx',
}

// ---------------------------------------------------------------------------------------------
// CPU of the processes that are not ours, from /proc as Radiator's.

/** Processes whose command line passes `match`, with their CPU ms so far. */
function scan(match: (cmdline: string, pid: number) => boolean): Map<number, number> {
  const out = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let cmd: string
    try {
      cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (match(cmd, Number(name))) {
      const c = procCpuMs(name)
      if (Number.isFinite(c)) out.set(Number(name), c)
    }
  }
  return out
}

/** CPU used since `before` by the processes matched now (a process that ended since is lost). */
const cpuSince = (before: Map<number, number>, now: Map<number, number>) =>
  [...now].reduce((a, [pid, c]) => a + c - (before.get(pid) ?? 0), 0)

/** PostgreSQL backends connected to `database` (a backend's title: `postgres: 15/main: user database host state`). */
const pgBackends = (database: string) => () =>
  scan((cmd) => cmd.startsWith('postgres: ') && cmd.split(' ').includes(database))
const natsServer = () => scan((cmd) => cmd.split('\0')[0]!.endsWith('nats-server'))

// ---------------------------------------------------------------------------------------------

/**
 * nginx with deploy/cluster/nginx.conf in front of `upstreams`. Not server/test/proxies.ts's
 * startProxy: its 256 worker connections hold about 120 proxied WebSockets, and this part opens 1,000.
 */
async function startNginx(upstreams: number[]): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  if (!NGINX) throw new Error('nginx is not installed (apt-get install nginx)')
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-nginx-'))
  const port = await freePort()
  writeFileSync(join(dir, 'radiator.conf'), clusterNginxConfig(port, upstreams))
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
  for (const t of temps) mkdirSync(join(dir, t))
  const errorLog = join(dir, 'error.log')
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      process.getuid?.() === 0 ? 'user root;' : '',
      // One worker, as the tests run it: the second core is the Radiators' and the load's.
      'worker_processes 1;',
      'worker_rlimit_nofile 20000;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${errorLog} warn;`,
      'events { worker_connections 8192; }',
      'http {',
      '  access_log off;',
      ...temps.map((t) => `  ${t}_temp_path ${join(dir, t)};`),
      `  include ${join(dir, 'radiator.conf')};`,
      '}',
    ].join('\n')
  )
  const child = spawn(NGINX, ['-p', dir, '-e', errorLog, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM') // its master takes the worker down with it
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  const canConnect = () =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (await canConnect()) return { url: `http://127.0.0.1:${port}`, child, stop }
    await sleep(50)
  }
  await stop()
  throw new Error(`nginx did not start: ${stderr}`)
}

// ---------------------------------------------------------------------------------------------

interface Setup {
  key: Key
  name: string
  /** Where requests and clients go: the instance, or nginx. */
  url: string
  procs: Proc[]
  /** CPU (ms) of the Radiator processes, summed. */
  cpuMs(): number
  /** The other processes' CPU so far: PostgreSQL backends of this database, nginx, the NATS server. */
  others(): { pg: Map<number, number>; nginx: Map<number, number>; nats: Map<number, number> }
  count(sql: string): Promise<number>
  /** What each instance's writer connection is doing now (PostgreSQL only; see WRITER_STATES). */
  writerStates(): Promise<string[]>
  /** Why it could not start or stopped taking part. */
  error?: string
  close(): Promise<void>
}

/**
 * Where the writers' transactions spend their time, one label per writer connection: waiting for a
 * lock another instance's transaction holds, waiting for Radiator's next statement (idle in
 * transaction: the round trip and the JavaScript between statements), PostgreSQL working, waiting
 * on I/O or WAL (the COMMIT's flush), or no transaction open.
 */
const WRITER_STATES = `SELECT CASE
    WHEN state = 'idle in transaction' THEN 'waiting for Radiator'
    WHEN wait_event_type = 'Lock' THEN 'lock wait'
    WHEN state = 'active' AND wait_event_type IN ('IO', 'LWLock', 'IPC') THEN 'I/O, WAL'
    WHEN state = 'active' THEN 'PostgreSQL working'
    ELSE 'no transaction' END AS s
  FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'radiator-writer'`

const none = () => new Map<number, number>()

async function sqliteSetup(dir: string): Promise<Setup> {
  const dataDir = join(dir, 'sqlite')
  const proc = await startRadiator(dataDir)
  return {
    key: 'sqlite',
    name: NAMES.sqlite,
    url: proc.url,
    procs: [proc],
    cpuMs: () => proc.cpuMs(),
    others: () => ({ pg: none(), nginx: none(), nats: none() }),
    writerStates: async () => [],
    async count(sql) {
      const db = new Database(join(dataDir, 'radiator.db'), { readonly: true, fileMustExist: true })
      try {
        return (db.prepare(sql).get() as { n: number }).n
      } finally {
        db.close()
      }
    },
    async close() {
      await proc.stop()
    },
  }
}

async function clusterSetup(key: 'pg1' | 'pg3', dir: string): Promise<Setup> {
  const cluster: TestCluster = await testCluster()
  const procs: Proc[] = []
  let nginx: Awaited<ReturnType<typeof startNginx>> | null = null
  const pool = new pg.Pool({ connectionString: cluster.databaseUrl, max: 2 })
  const close = async () => {
    await nginx?.stop()
    await Promise.all(procs.map((p) => p.stop()))
    await pool.end()
    await cluster.drop()
  }
  try {
    const n = key === 'pg3' ? 3 : 1
    const ports = await Promise.all(Array.from({ length: n }, () => freePort()))
    // Started together, as a deployment starts them (migrations take turns under their lock).
    const started = await Promise.allSettled(
      ports.map((port, i) =>
        startRadiator(join(dir, `${key}-${i}`), {
          ...(cluster.env as Record<string, string>),
          PORT: String(port),
        })
      )
    )
    for (const s of started) if (s.status === 'fulfilled') procs.push(s.value)
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    if (key === 'pg3') nginx = await startNginx(ports)
    const database = new URL(cluster.databaseUrl).pathname.slice(1)
    const master = nginx?.child.pid
    return {
      key,
      name: NAMES[key],
      url: nginx?.url ?? procs[0]!.url,
      procs,
      cpuMs: () => procs.reduce((a, p) => a + p.cpuMs(), 0),
      others: () => ({
        pg: pgBackends(database)(),
        nginx: master ? scan((_, pid) => pid === master || readPpid(pid) === master) : none(),
        nats: natsServer(),
      }),
      async count(sql) {
        return Number((await pool.query<{ n: string }>(sql)).rows[0]!.n)
      },
      writerStates: async () => (await pool.query<{ s: string }>(WRITER_STATES)).rows.map((r) => r.s),
      close,
    }
  } catch (e) {
    await close().catch(() => {})
    throw e
  }
}

function readPpid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return -1
  }
}

const load1 = () => Math.round(loadavg()[0]! * 100) / 100
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e)).trim().split('\n').slice(0, 3).join(' ')

interface Health {
  liveClients?: number
  writes?: { batches: number; ops: number; failed: number; retried?: number }
}

/** Each instance's /healthz (viewers see the detail; the bench's dashboard is public). */
const health = (s: Setup): Promise<Health[]> =>
  Promise.all(s.procs.map(async (p) => ((await fetch(`${p.url}/healthz`)).json() as Promise<Health>).catch(() => ({}))))

/** The writers' counters summed over the instances: COMMITs, writes, failed, batches retried op by op. */
async function writes(s: Setup) {
  const sum = { batches: 0, ops: 0, failed: 0, retried: 0 }
  for (const h of await health(s))
    for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += h.writes?.[k] ?? 0
  return sum
}

// ---------------------------------------------------------------------------------------------

interface IngestRow {
  key: Key
  name: string
  requests: number
  seconds: number
  ok: number
  /** Answers per second while wrk ran (ingest's figure). */
  rps: number
  /**
   * Deliveries stored per second, counting the time what wrk left in flight took to land: the
   * headline here, since a setup slower to answer holds up to a connection's worth after wrk stops.
   */
  storedRate: number
  drainSeconds: number
  /** storedRate ÷ SQLite's. */
  ratio: number
  perTurn: number
  /** Radiator CPU over the slices and their drain, per delivery stored. */
  cpuUsPerDelivery: number
  cpuRatio: number
  pgUsPerDelivery: number
  nginxUsPerDelivery: number
  natsUsPerDelivery: number
  p50: number
  p99: number
  load: number
  statuses: Record<number, number>
  errors: number
  stored: number
  changed: number
  inFlight: number
  mismatches: string[]
  perSlice: number[]
  /** Writes per COMMIT (the group commit's batch), batches retried op by op after a conflict, writes failed. */
  opsPerCommit: number
  /** Radiator CPU ms per second with no load, summed over the instances. */
  idleCpuMsPerS: number
  /** Share of the samples of the writers' connections in each WRITER_STATES label, during the slices. */
  writerStates: Record<string, number>
  retried: number
  writeFailed: number
  failed?: string
}

/**
 * Waits until what wrk left in flight has landed (the stored count still for 300 ms, at most 30 s),
 * so a slice's CPU and count include every request it sent. Radiator on SQLite lands them within
 * ms; a slower setup may hold many, each answered after wrk has gone.
 */
async function settled(s: Setup): Promise<number> {
  const t0 = performance.now()
  let last = await s.count(STORED_SQL.stored)
  let landed = t0
  while (performance.now() < t0 + 30_000) {
    await sleep(300)
    const n = await s.count(STORED_SQL.stored)
    if (n === last) break
    last = n
    landed = performance.now()
  }
  return (landed - t0) / 1000
}

const shares = (counts: Record<string, number>) => {
  const n = Object.values(counts).reduce((a, b) => a + b, 0)
  return Object.fromEntries(
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => [k, v / n])
  )
}

async function ingest(setups: Setup[], bodiesFile: string): Promise<IngestRow[]> {
  const acc = new Map(
    setups.map((s) => [
      s,
      {
        requests: 0,
        seconds: 0,
        ok: 0,
        rps: [] as number[],
        storedRate: [] as number[],
        drainSeconds: 0,
        writerStates: {} as Record<string, number>,
        p50: [] as number[],
        p99: [] as number[],
        load: [] as number[],
        cpuMs: 0,
        pgMs: 0,
        nginxMs: 0,
        natsMs: 0,
        statuses: {} as Record<number, number>,
        errors: 0,
        stored: 0,
        changed: 0,
        inFlight: 0,
        mismatches: [] as string[],
        offset: 0,
      },
    ])
  )
  const slice = async (s: Setup, seconds: number, tag: string, record: boolean) => {
    const a = acc.get(s)!
    const [stored0, changed0] = [await s.count(STORED_SQL.stored), await s.count(STORED_SQL.changed)]
    const o0 = s.others()
    const cpu0 = s.cpuMs()
    // wrk's 2 s timeout would count a slow setup's answers as errors instead of timing them.
    let sampling = record
    const sampler = (async () => {
      while (sampling) {
        for (const st of await s.writerStates()) a.writerStates[st] = (a.writerStates[st] ?? 0) + 1
        await sleep(50)
      }
    })()
    const r = await loadSigned(s.url, bodiesFile, a.offset, tag, seconds, 60).finally(() => (sampling = false))
    await sampler
    a.offset += r.requests + r.errors + CONNECTIONS
    const drain = await settled(s)
    const cpuMs = s.cpuMs() - cpu0
    const o1 = s.others()
    const stored = (await s.count(STORED_SQL.stored)) - stored0
    const changed = (await s.count(STORED_SQL.changed)) - changed0
    const rate = stored / (r.seconds + drain)
    if (!record) return rate
    const ok = r.statuses[200] ?? 0
    a.requests += r.requests
    a.seconds += r.seconds
    a.drainSeconds += drain
    a.storedRate.push(rate)
    a.ok += ok
    a.rps.push(r.rps)
    a.p50.push(r.p50 / 1000)
    a.p99.push(r.p99 / 1000)
    a.load.push(load1())
    a.cpuMs += cpuMs
    a.pgMs += cpuSince(o0.pg, o1.pg)
    a.nginxMs += cpuSince(o0.nginx, o1.nginx)
    a.natsMs += cpuSince(o0.nats, o1.nats)
    a.errors += r.errors
    for (const [code, n] of Object.entries(r.statuses)) a.statuses[Number(code)] = (a.statuses[Number(code)] ?? 0) + n
    a.stored += stored
    a.changed += changed
    a.inFlight += stored - ok
    if (storedMismatch(ok, stored)) a.mismatches.push(`${tag}: ${ok} × 200, ${stored} stored`)
    return rate
  }
  const live = () => setups.filter((s) => !s.error)
  for (const [i, s] of setups.entries())
    await slice(s, 1, `cw${i}`, false).catch((e) => (s.error = `ingest warm-up: ${errText(e)}`))
  // What each setup costs doing nothing (timers, the leader's jobs, the relay), all idle at once,
  // once the clients of time to truth have gone.
  await sleep(2000)
  const idle0 = new Map(setups.map((s) => [s, s.cpuMs()]))
  const idleT0 = performance.now()
  await sleep(5000)
  const idleSeconds = (performance.now() - idleT0) / 1000
  const idle = new Map(setups.map((s) => [s, (s.cpuMs() - idle0.get(s)!) / idleSeconds]))
  const w0 = new Map(await Promise.all(setups.map(async (s) => [s, await writes(s)] as const)))
  const baseRps: number[] = []
  const perTurn = new Map<Setup, number[]>(setups.map((s) => [s, []]))
  for (let turn = 0; turn < SLICES; turn++) {
    const order = live()
    const rpsOf = new Map<Setup, number>()
    for (let k = 0; k < order.length; k++) {
      const s = order[(turn + k) % order.length]!
      try {
        rpsOf.set(s, await slice(s, SLICE_SECONDS, `c${turn}k${k}`, true))
      } catch (e) {
        s.error = `ingest: ${errText(e)}`
      }
    }
    const base = rpsOf.get(setups[0]!)
    if (base) baseRps.push(base)
    for (const [s, r] of rpsOf) if (base) perTurn.get(s)!.push(r / base)
  }
  const w1 = new Map(await Promise.all(setups.map(async (s) => [s, await writes(s)] as const)))
  const base = acc.get(setups[0]!)!
  const storedRate = (a: typeof base) => a.stored / (a.seconds + a.drainSeconds)
  const baseCpu = (base.cpuMs * 1000) / base.stored
  return setups.map((s) => {
    const a = acc.get(s)!
    const per = (x: number) => (x * 1000) / a.stored
    const w = (k: keyof Awaited<ReturnType<typeof writes>>) => w1.get(s)![k] - w0.get(s)![k]
    return {
      key: s.key,
      name: s.name,
      requests: a.requests,
      seconds: a.seconds,
      ok: a.ok,
      rps: a.requests / a.seconds,
      storedRate: storedRate(a),
      drainSeconds: a.drainSeconds,
      ratio: storedRate(a) / storedRate(base),
      perTurn: median(perTurn.get(s)!),
      cpuUsPerDelivery: per(a.cpuMs),
      cpuRatio: per(a.cpuMs) / baseCpu,
      pgUsPerDelivery: per(a.pgMs),
      nginxUsPerDelivery: per(a.nginxMs),
      natsUsPerDelivery: per(a.natsMs),
      p50: median(a.p50),
      p99: median(a.p99),
      load: median(a.load),
      statuses: a.statuses,
      errors: a.errors,
      stored: a.stored,
      changed: a.changed,
      inFlight: a.inFlight,
      mismatches: a.mismatches,
      /** Deliveries stored per second of each slice in turn order (the builds table grows as they go). */
      perSlice: a.storedRate,
      opsPerCommit: w('ops') / w('batches'),
      idleCpuMsPerS: idle.get(s)!,
      writerStates: shares(a.writerStates),
      retried: w('retried'),
      writeFailed: w('failed'),
      ...(s.error ? { failed: s.error } : {}),
    }
  })
}

// ---------------------------------------------------------------------------------------------

interface TruthRow extends Row {
  key: Key
  /** Clients each instance counted (its /healthz) once all were open. */
  perInstance: number[]
  /** Deliveries acknowledged by the rounds' POSTs, and stored in the setup's database. */
  acknowledged: number
  storedDeliveries: number
  pgMsPerRound: number
  nginxMsPerRound: number
  load: number
  failed?: string
}

async function timeToTruth(setups: Setup[]): Promise<TruthRow[]> {
  const rows: TruthRow[] = []
  const variants = new Map<Setup, Variant>(
    setups.map((s) => [
      s,
      {
        name: s.name,
        kind: 'radiator',
        transport: 'ws',
        proc: { url: s.url, cpuMs: () => s.cpuMs() },
        clients: [] as BenchClient[],
        connect: (i: number) => new WsBench(`${s.url.replace('http', 'ws')}/live`, i === 0),
      },
    ])
  )
  const acknowledged = new Map<Setup, number>(setups.map((s) => [s, 0]))
  try {
    for (const level of LEVELS) {
      const live = () => setups.filter((s) => !s.error)
      const perInstance = new Map<Setup, number[]>()
      for (const s of live()) {
        const v = variants.get(s)!
        try {
          v.clients.push(...(await openMany(level - v.clients.length, (i) => v.connect(v.clients.length + i))))
          await sleep(200)
          perInstance.set(
            s,
            (await health(s)).map((h) => Number(h.liveClients))
          )
        } catch (e) {
          s.error = `opening ${level} clients: ${errText(e)}`
        }
      }
      const results = new Map<Setup, RoundResult[]>(setups.map((s) => [s, []]))
      const loads = new Map<Setup, number[]>(setups.map((s) => [s, []]))
      const others0 = new Map(live().map((s) => [s, s.others()]))
      for (let r = 0; r < WARMUP + ROUNDS; r++) {
        const order = live()
        for (let k = 0; k < order.length; k++) {
          const s = order[(r + k) % order.length]!
          try {
            const res = await round(variants.get(s)!)
            acknowledged.set(s, acknowledged.get(s)! + 1)
            // Nobody got it: more rounds would each wait out the timeout.
            if (res.missing === level) s.error = `time to truth at ${level} clients: ${res.errors.at(-1)}`
            if (r >= WARMUP) {
              results.get(s)!.push(res)
              loads.get(s)!.push(load1())
            }
          } catch (e) {
            s.error = `time to truth at ${level} clients: ${errText(e)}`
          }
          await sleep(10)
        }
      }
      for (const s of setups) {
        const rs = results.get(s)!
        if (!rs.length) continue
        const v = variants.get(s)!
        const row = summarize(level, v, rs)
        const bad = orderedIds(v.clients)
        row.ordered = bad.length === 0
        row.errors.push(...bad)
        const o0 = others0.get(s)
        const o1 = s.others()
        const stored = await s.count(GENERIC_STORED)
        if (stored !== acknowledged.get(s))
          row.errors.push(`${acknowledged.get(s)} deliveries acknowledged, ${stored} stored`)
        rows.push({
          ...row,
          key: s.key,
          perInstance: perInstance.get(s) ?? [],
          acknowledged: acknowledged.get(s)!,
          storedDeliveries: stored,
          // Over the whole level, warm-up and the other setups' turns included (this database and nginx idle then).
          pgMsPerRound: o0 ? cpuSince(o0.pg, o1.pg) / rs.length : Number.NaN,
          nginxMsPerRound: o0 ? cpuSince(o0.nginx, o1.nginx) / rs.length : Number.NaN,
          load: median(loads.get(s)!),
          ...(s.error ? { failed: s.error } : {}),
        })
      }
    }
  } finally {
    for (const v of variants.values()) for (const c of v.clients) c.close()
  }
  return rows
}

// ---------------------------------------------------------------------------------------------

export async function benchCluster(): Promise<string> {
  if (!hasWrk()) return '\ncluster: skipped, wrk is not installed (apt-get install wrk)'
  if (!SERVICES.postgres || !SERVICES.nats)
    return '\ncluster: skipped, PostgreSQL on 127.0.0.1:5432 and NATS JetStream on 127.0.0.1:4222 are needed (TEST_DATABASE_URL, TEST_NATS_URL)'
  const before = machine()
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-cluster-'))
  const bodiesFile = join(dir, 'bodies.bin')
  const avgBytes = writeBodies(bodiesFile, BODIES, 8_000_000_000 + (Date.now() % 1_000_000) * 1000)
  const setups: Setup[] = [await sqliteSetup(dir)]
  const startErrors: Record<string, string> = {}
  for (const key of ['pg1', 'pg3'] as const) {
    try {
      setups.push(await clusterSetup(key, dir))
    } catch (e) {
      startErrors[key] = errText(e)
    }
  }
  let truth: TruthRow[] = []
  let ingestRows: IngestRow[] = []
  const loads: Record<string, { before: number; after: number }> = {}
  try {
    let l0 = load1()
    truth = await timeToTruth(setups)
    loads.timeToTruth = { before: l0, after: load1() }
    l0 = load1()
    ingestRows = await ingest(setups, bodiesFile)
    loads.ingest = { before: l0, after: load1() }
  } finally {
    await Promise.all(setups.map((s) => s.close().catch(() => {})))
    rmSync(dir, { recursive: true, force: true })
  }
  const after = machine()
  const base = (level: number) => truth.find((r) => r.level === level && r.key === 'sqlite')
  const problems = [
    ...Object.entries(startErrors).map(([k, e]) => `${NAMES[k as Key]} did not start: ${e}`),
    ...setups.filter((s) => s.error).map((s) => `${s.name}: ${s.error}`),
    ...ingestRows.flatMap((r) => r.mismatches.map((m) => `${r.name}: ${m}`)),
    ...truth.flatMap((r) => (r.errors.length ? [`${r.level} clients, ${r.server}: ${r.errors[0]}`] : [])),
  ]
  const file = writeJson('cluster', {
    machine: { before, after },
    loads,
    levels: LEVELS,
    rounds: ROUNDS,
    warmup: WARMUP,
    slices: SLICES,
    sliceSeconds: SLICE_SECONDS,
    bodies: BODIES,
    bodyBytes: avgBytes,
    startErrors,
    problems,
    timeToTruth: truth,
    ingest: ingestRows,
  })
  const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '-')
  const us = (v: number) => (Number.isFinite(v) && v > 0 ? v.toFixed(0) : '-')
  const truthTable = [
    `\nCluster, time to truth: one generic delivery POSTed (to nginx for 3 instances) → every WebSocket client (through nginx for 3) has the build.finished; ${ROUNDS} rounds after ${WARMUP} warm-up, setups taking turns; ratios of the round p99 (median over rounds of each round's p99) and of the p50 to SQLite alone's (${before.cores} cores, load ${loads.timeToTruth?.before ?? '-'} before, ${loads.timeToTruth?.after ?? '-'} after)`,
    mdTable(
      [
        'clients',
        'setup',
        'clients per instance',
        'p50 ms',
        'p99 ms',
        'round p99 ms',
        'p50 ÷ SQLite',
        'round p99 ÷ SQLite',
        'first→last p99 ms',
        'POST answered p50 ms',
        'Radiator CPU/round ms',
        'PostgreSQL CPU/round ms',
        'load',
        'check',
      ],
      truth.map((r) => [
        r.level,
        r.server,
        r.perInstance.join(' / '),
        ms(r.p50),
        ms(r.p99),
        ms(r.roundP99),
        x(r.p50 / (base(r.level)?.p50 ?? Number.NaN)),
        x(r.roundP99 / (base(r.level)?.roundP99 ?? Number.NaN)),
        ms(r.spreadP99),
        ms(r.answerP50),
        ms(r.cpuPerRoundMs),
        r.key === 'sqlite' ? '-' : ms(r.pgMsPerRound),
        r.load,
        r.errors.length || r.failed
          ? `FAILED: ${[r.failed, ...r.errors].filter(Boolean).slice(0, 2).join('; ')}`
          : r.ordered
            ? `every client every frame once, in order; ${r.storedDeliveries} acknowledged = stored`
            : 'ORDER',
      ])
    ),
  ]
  const lines = [
    ...(truth.length ? truthTable : []),
    `\nCluster, ingest: signed GitHub workflow_run deliveries (${Math.round(avgBytes).toLocaleString('en')} B each) from wrk (bench/ingest.ts's load), ${SLICES} turns of ${SLICE_SECONDS} s slices (${before.cores} cores, load ${loads.ingest?.before ?? '-'} before, ${loads.ingest?.after ?? '-'} after). Stored/s counts the time what wrk left in flight took to land after each slice; answered/s and the answer times are wrk's, of the answers within the slice. Radiator CPU, per delivery stored, is summed over its instances; PostgreSQL's is its backends for this database only (not the WAL writer or checkpointer); NATS's is the whole shared server's`,
    mdTable(
      [
        'setup',
        'stored/s',
        '÷ SQLite',
        'per-turn ratio',
        'Radiator CPU µs/delivery',
        '÷ SQLite',
        'PostgreSQL µs',
        'nginx µs',
        'NATS µs',
        'writes per COMMIT',
        'idle CPU ms/s',
        'answered/s',
        'answer p50/p99 ms',
        'load',
        'check',
      ],
      ingestRows.map((r) => [
        r.name,
        r.storedRate.toFixed(1),
        x(r.ratio),
        x(r.perTurn),
        us(r.cpuUsPerDelivery),
        x(r.cpuRatio),
        r.key === 'sqlite' ? '-' : us(r.pgUsPerDelivery),
        us(r.nginxUsPerDelivery),
        r.key === 'sqlite' ? '-' : us(r.natsUsPerDelivery),
        `${ms(r.opsPerCommit)}${r.retried ? ` (${r.retried} batches retried op by op)` : ''}${r.writeFailed ? ` ${r.writeFailed} failed` : ''}`,
        ms(r.idleCpuMsPerS),
        r.rps.toFixed(1),
        `${ms(r.p50)}/${ms(r.p99)}`,
        r.load,
        r.failed || r.mismatches.length
          ? `FAILED: ${[r.failed, ...r.mismatches].filter(Boolean).slice(0, 2).join('; ')}`
          : `every 200 stored (${r.stored} deliveries, ${r.changed} new builds${r.stored > r.changed ? `: ${r.stored - r.changed} REPEATS of a used body, cheaper, raise BENCH_CLUSTER_BODIES` : ''}${r.inFlight ? `, ${r.inFlight} more in flight when wrk stopped` : ''})${Object.keys(r.statuses).some((c) => c !== '200') ? ` statuses ${JSON.stringify(r.statuses)}` : ''}${r.errors ? ` ${r.errors} socket errors` : ''}`,
      ])
    ),
  ]
  const pct = (v: number) => `${Math.round(v * 100)} %`
  for (const r of ingestRows)
    if (Object.keys(r.writerStates).length)
      lines.push(
        `${r.name}, its writers' connections during the slices: ${Object.entries(r.writerStates)
          .map(([k, v]) => `${k} ${pct(v)}`)
          .join(', ')}`
      )
  if (Object.keys(startErrors).length)
    lines.push(...Object.entries(startErrors).map(([k, e]) => `${NAMES[k as Key]}: did not start: ${e}`))
  lines.push(`JSON: ${file}`)
  if (problems.length) lines.push(`\nPROBLEMS: ${problems.join('; ')}`)
  return lines.join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchCluster())
