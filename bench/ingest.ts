/**
 * `npm run bench -- ingest`: signed GitHub `workflow_run` deliveries per second into Radiator's
 * POST /hooks/github, against a bare node:http route that reads the body and answers 204 (the
 * baseline), and the same plus the HMAC check and JSON.parse (what any signed-webhook receiver must
 * do before it stores anything). Each server runs in its own process; wrk (50 connections) is
 * the load, the variants taking turns in short slices as in bench/collect.ts.
 *
 * Bodies are the real fixture (`workflow_run-completed-success`), each with its own
 * `workflow_run.id` (a new build), signed here ahead of time (HMAC per request in Lua would load
 * wrk's core): wrk reads them from a file and rotates through them, each request with a distinct
 * X-GitHub-Delivery. A body comes round again only once the pool is used up; that repeat is stored as
 * a delivery that changes nothing, and is counted apart. After every slice the deliveries stored
 * are counted in the database and must equal the 200s (wrk stops with up to one request per
 * connection in flight: those may be stored beyond the 200s, no more).
 *
 * Env: BENCH_INGEST_SLICES (5), BENCH_INGEST_SLICE_SECONDS (2), BENCH_INGEST_CONNECTIONS (50),
 * BENCH_INGEST_BODIES (8000).
 */
import { createHmac } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { loadFixture } from '../server/test/fixtures.ts'
import {
  GITHUB_SECRET,
  machine,
  mdTable,
  median,
  ms,
  sleep,
  startBaseline,
  startRadiator,
  writeJson,
  type Proc,
} from './procs.ts'
import { hasWrk, wrkLoad } from './wrk.ts'

export const SLICES = Number(process.env.BENCH_INGEST_SLICES ?? 5)
export const SLICE_SECONDS = Number(process.env.BENCH_INGEST_SLICE_SECONDS ?? 2)
export const CONNECTIONS = Number(process.env.BENCH_INGEST_CONNECTIONS ?? 50)
export const BODIES = Number(process.env.BENCH_INGEST_BODIES ?? 8000)

/** `sig\nlength\nbody` per delivery, for the Lua side. */
export function writeBodies(file: string, n: number, runBase: number): number {
  const fx = loadFixture('github', 'workflow_run-completed-success')
  const parts: Buffer[] = []
  let size = 0
  for (let k = 0; k < n; k++) {
    const body = structuredClone(fx.body)
    body.workflow_run.id = runBase + k
    body.workflow_run.run_number = k + 1
    const raw = Buffer.from(JSON.stringify(body, null, 2))
    size += raw.length
    const sig = `sha256=${createHmac('sha256', GITHUB_SECRET).update(raw).digest('hex')}`
    parts.push(Buffer.from(`${sig}\n${raw.length}\n`), raw)
  }
  writeFileSync(file, Buffer.concat(parts))
  return size / n
}

const LUA_INIT = `
  local f = assert(io.open(args[2], "rb"))
  bodies, sigs = {}, {}
  while true do
    local sig = f:read("*l")
    if not sig then break end
    local len = tonumber(f:read("*l"))
    sigs[#sigs + 1] = sig
    bodies[#bodies + 1] = f:read(len)
  end
  f:close()
  offset = tonumber(args[3])`
const LUA_REQUEST = `
  local i = (offset + n - 1) % #bodies + 1
  wrk.headers["X-Hub-Signature-256"] = sigs[i]
  wrk.headers["X-GitHub-Delivery"] = tag .. "-" .. n
  cur = bodies[i]`

/** What a Radiator stored, the same SQL on SQLite and PostgreSQL: deliveries, and those that made a new build. */
export const STORED_SQL = {
  stored: `SELECT count(*) AS n FROM deliveries WHERE provider = 'github' AND outcome = 'stored'`,
  changed: `SELECT count(*) AS n FROM deliveries WHERE provider = 'github' AND outcome = 'stored' AND reason IS NULL`,
}

/**
 * Stored against acknowledged in one slice: every 200 stored, and at most one more per connection
 * (what wrk left in flight when it stopped).
 */
export const storedMismatch = (ok: number, stored: number) => stored < ok || stored - ok > CONNECTIONS

/** One slice of wrk posting the pre-signed bodies of `bodiesFile` from `offset` on, each with its own delivery id. */
export function loadSigned(
  url: string,
  bodiesFile: string,
  offset: number,
  tag: string,
  seconds: number,
  timeoutS?: number
) {
  return wrkLoad({
    timeoutS,
    url: `${url}/hooks/github`,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': 'workflow_run',
    },
    body: 'cur',
    tag,
    connections: CONNECTIONS,
    seconds,
    luaInit: LUA_INIT,
    luaRequest: LUA_REQUEST,
    args: [bodiesFile, String(offset)],
  })
}

interface Variant {
  name: string
  proc: Proc
  /** Radiator's database, to count what it stored. */
  db?: string
  ok: number
  requests: number
  seconds: number
  rps: number[]
  p50: number[]
  p99: number[]
  cpuMs: number
  statuses: Record<number, number>
  errors: number
  stored: number
  changed: number
  inFlight: number
  mismatches: string[]
}

export async function benchIngest(): Promise<string> {
  if (!hasWrk()) return '\ningest: skipped, wrk is not installed (apt-get install wrk)'
  const before = machine()
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-ingest-'))
  const bodiesFile = join(dir, 'bodies.bin')
  const avgBytes = writeBodies(bodiesFile, BODIES, 7_000_000_000 + (Date.now() % 1_000_000) * 1000)
  const dataDir = join(dir, 'data')
  const blank = (name: string, proc: Proc): Variant => ({
    name,
    proc,
    ok: 0,
    requests: 0,
    seconds: 0,
    rps: [],
    p50: [],
    p99: [],
    cpuMs: 0,
    statuses: {},
    errors: 0,
    stored: 0,
    changed: 0,
    inFlight: 0,
    mismatches: [],
  })
  const variants: Variant[] = [
    blank('bare node:http: read the body, 204 (baseline)', await startBaseline('bare')),
    blank('bare + HMAC check + JSON.parse, 204', await startBaseline('bare-verify')),
    { ...blank('Radiator POST /hooks/github', await startRadiator(dataDir)), db: join(dataDir, 'radiator.db') },
  ]
  /** Where each server's next slice starts in the pool: a server sees a body again only once it has used them all. */
  const offsets = new Map<Variant, number>()
  const count = (v: Variant) => {
    const db = new Database(v.db!, { readonly: true, fileMustExist: true })
    try {
      const n = (sql: string) => (db.prepare(sql).get() as { n: number }).n
      return { stored: n(STORED_SQL.stored), changed: n(STORED_SQL.changed) }
    } finally {
      db.close()
    }
  }
  const slice = async (v: Variant, seconds: number, tag: string) => {
    const c0 = v.db ? count(v) : null
    const cpu0 = v.proc.cpuMs()
    const r = await loadSigned(v.proc.url, bodiesFile, offsets.get(v) ?? 0, tag, seconds)
    offsets.set(v, (offsets.get(v) ?? 0) + r.requests + r.errors + CONNECTIONS)
    await sleep(300) // what wrk left in flight lands (a body is read and committed within ms)
    const cpuMs = v.proc.cpuMs() - cpu0
    const c1 = v.db ? count(v) : null
    return { r, cpuMs, stored: c1 && c0 ? c1.stored - c0.stored : 0, changed: c1 && c0 ? c1.changed - c0.changed : 0 }
  }
  try {
    for (const [i, v] of variants.entries()) await slice(v, 1, `warm${i}`)
    for (let turn = 0; turn < SLICES; turn++)
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(turn + k) % variants.length]!
        const { r, cpuMs, stored, changed } = await slice(v, SLICE_SECONDS, `t${turn}k${k}`)
        const okCode = v.db ? 200 : 204
        const ok = r.statuses[okCode] ?? 0
        v.ok += ok
        v.requests += r.requests
        v.seconds += r.seconds
        v.rps.push(r.rps)
        v.p50.push(r.p50 / 1000)
        v.p99.push(r.p99 / 1000)
        v.cpuMs += cpuMs
        v.errors += r.errors
        for (const [code, n] of Object.entries(r.statuses))
          v.statuses[Number(code)] = (v.statuses[Number(code)] ?? 0) + n
        if (v.db) {
          v.stored += stored
          v.changed += changed
          v.inFlight += stored - ok
          if (storedMismatch(ok, stored)) v.mismatches.push(`turn ${turn}: ${ok} × 200, ${stored} stored`)
        }
      }
  } finally {
    await Promise.all(variants.map((v) => v.proc.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
  const after = machine()
  const base = variants[0]!
  const rps = (v: Variant) => v.requests / v.seconds
  const cpuPer = (v: Variant) => (v.cpuMs * 1000) / v.requests
  const perTurn = (v: Variant) => median(v.rps.map((x, t) => x / base.rps[t]!))
  const rows = variants.map((v) => ({
    name: v.name,
    rps: rps(v),
    ratio: rps(v) / rps(base),
    perTurn: perTurn(v),
    cpuUsPerRequest: cpuPer(v),
    p50: median(v.p50),
    p99: median(v.p99),
    statuses: v.statuses,
    errors: v.errors,
    stored: v.stored,
    changed: v.changed,
    inFlight: v.inFlight,
    mismatches: v.mismatches,
    /** req/s of each slice in turn order (Radiator's falls as the pipeline's builds grow: see README). */
    perSlice: v.rps,
  }))
  const file = writeJson('ingest', {
    machine: { before, after },
    slices: SLICES,
    sliceSeconds: SLICE_SECONDS,
    connections: CONNECTIONS,
    bodies: BODIES,
    bodyBytes: avgBytes,
    rows,
  })
  return [
    `\nWebhook ingest: signed GitHub workflow_run deliveries (${Math.round(avgBytes).toLocaleString('en')} B each, ${BODIES} distinct runs pre-signed, distinct delivery ids), ${CONNECTIONS} connections from wrk, ${SLICES} turns of ${SLICE_SECONDS} s slices, each server in its own process (${before.cores} cores, load ${before.load1} before, ${after.load1} after)`,
    mdTable(
      ['server', 'req/s', 'ratio', 'per-turn ratio', 'CPU/req µs', 'p50/p99 ms', 'check'],
      rows.map((r) => [
        r.name,
        r.rps.toFixed(0),
        `${r.ratio.toFixed(2)}×`,
        `${r.perTurn.toFixed(2)}×`,
        r.cpuUsPerRequest.toFixed(0),
        `${ms(r.p50)}/${ms(r.p99)}`,
        r.name.startsWith('Radiator')
          ? r.mismatches.length
            ? `ROW COUNT MISMATCH: ${r.mismatches.join('; ')}`
            : `every 200 stored (${r.stored} deliveries, ${r.changed} new builds, ${r.stored - r.changed} repeats of a used body${r.inFlight ? `; ${r.inFlight} more in flight when wrk stopped` : ''})${Object.keys(r.statuses).some((c) => c !== '200') ? ` statuses ${JSON.stringify(r.statuses)}` : ''}`
          : `${JSON.stringify(r.statuses)}${r.errors ? ` ${r.errors} errors` : ''}`,
      ])
    ),
    `JSON: ${file}`,
  ].join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchIngest())
