/**
 * `npm run bench -- fanout`: time to truth. One signed webhook in (a generic-provider delivery with
 * its bearer token, a build reaching a final state) → every connected screen has the
 * `build.finished` event. Measured at 100 / 1,000 / 5,000 WebSocket clients against two baselines
 * started in their own processes and measured in the same run, the variants taking turns round by
 * round: a bare `ws` server whose POST handler broadcasts a frame of the same size (Radiator's own
 * build.finished frame, captured in the warm-up) to every client, and socket.io doing the same
 * with `io.emit`. Then SSE and long polling at 1,000 clients against Radiator alone.
 *
 * Every client lives in this process; times are from just before the POST is written to the
 * moment the client's message handler runs, so the last client's time includes this process
 * reading every earlier client's frame (the same for every variant). After each round every client
 * must hold exactly the frames client 0 got in that round, in the same order, none twice, with
 * the same sizes; client 0 also checks that the build.finished names the build the POST stored.
 *
 * Env: BENCH_LEVELS (100,1000,5000), BENCH_ROUNDS (20), BENCH_WARMUP (3), BENCH_SIDE_CLIENTS
 * (1000: SSE and polling), BENCH_SIDE=0 skips SSE and polling.
 */
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BenchClient, openMany, PollBench, SocketIoBench, SseBench, WsBench, type Msg } from './clients.ts'
import {
  GENERIC_TOKEN,
  machine,
  mdTable,
  median,
  ms,
  quantile,
  sleep,
  startBaseline,
  startRadiator,
  writeJson,
  type Proc,
} from './procs.ts'

const LEVELS = (process.env.BENCH_LEVELS ?? '100,1000,5000').split(',').map(Number)
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20)
export const WARMUP = Number(process.env.BENCH_WARMUP ?? 3)
const SIDE_CLIENTS = Number(process.env.BENCH_SIDE_CLIENTS ?? 1000)
const ROUND_TIMEOUT_MS = 30_000

type Kind = 'radiator' | 'ws' | 'ws2' | 'socketio'

export interface Variant {
  name: string
  kind: Kind
  transport: 'ws' | 'sse' | 'poll'
  /** Where the POST goes and whose CPU a round costs (several processes' sum for a cluster). */
  proc: Pick<Proc, 'url' | 'cpuMs'>
  clients: BenchClient[]
  connect(i: number): BenchClient & { opened: Promise<void> }
}

export interface RoundResult {
  /** Time to the build.finished per client (ms). */
  times: number[]
  /** Per client, its build.finished after the round's first one (ms): the fan-out alone, without the commit. */
  spread: number[]
  answerMs: number
  cpuMs: number
  /** Frames and bytes each client got in the round (Radiator: per build change). */
  frames: number
  bytes: number
  byType: Record<string, { frames: number; bytes: number }>
  missing: number
  errors: string[]
}

let runTag = `${process.pid}-${Date.now()}`
let seq = 0
/** Radiator's frames of one build change as sent, captured in the warm-up: what the baselines broadcast. */
let template: string | null = null
let updatedTemplate: string | null = null

/** A generic-provider delivery that takes a new build to a final state (transitions alternate). */
async function postGeneric(url: string): Promise<{ build: string; answerMs: number }> {
  const n = ++seq
  const body = JSON.stringify({
    id: `fanout-${runTag}-${n}`,
    project: 'acme/web',
    pipeline: 'deploy',
    branch: 'main',
    status: n % 2 ? 'success' : 'failure',
    number: n,
    actor: 'octocat',
    commit: { sha: '9f1c2e7', subject: 'Ship the new checkout', author: 'octocat' },
    url: `https://ci.example/deploys/${n}`,
    startedAt: '2026-11-24T10:00:00Z',
    finishedAt: '2026-11-24T10:03:12Z',
  })
  const t0 = performance.now()
  const res = await post(`${url}/hooks/generic`, body, { authorization: `Bearer ${GENERIC_TOKEN}` })
  const answerMs = performance.now() - t0
  const json = JSON.parse(res.body) as { stored?: boolean; build?: string }
  if (res.status !== 200 || !json.stored || !json.build)
    throw new Error(`generic hook answered ${res.status} ${res.body}`)
  return { build: json.build, answerMs }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })

function post(
  url: string,
  body: string,
  headers: Record<string, string> = {}
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        let s = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (s += c))
        res.on('end', () => resolve({ status: res.statusCode!, body: s }))
      }
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** One round: publish, wait until every client has the build.finished, check what each got. */
export async function round(v: Variant): Promise<RoundResult> {
  const n = v.clients.length
  const start = v.clients.map((c) => c.messages.length)
  let got = 0
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  const onMessage = (m: Msg) => {
    if (m.type === 'build.finished' && ++got === n) resolveDone()
  }
  for (const c of v.clients) c.onMessage = onMessage
  const cpu0 = v.proc.cpuMs()
  const t0 = performance.now()
  let answerMs: number
  let build: string | null = null
  if (v.kind === 'radiator') {
    const r = await postGeneric(v.proc.url)
    answerMs = r.answerMs
    build = r.build
  } else {
    const withId = (t: string) => t.replace(/^\{"id":\d+/, `{"id":${++seq}`)
    // `ws2` sends two frames per change, as Radiator did before build changes became one message
    // (build.updated, then build.finished; two build.finished-sized frames when none is seen now).
    const body = v.kind === 'ws2' ? `${withId(updatedTemplate ?? template!)}\n${withId(template!)}` : withId(template!)
    const res = await post(`${v.proc.url}/publish`, body)
    answerMs = performance.now() - t0
    if (res.status !== 204) throw new Error(`${v.name} publish answered ${res.status}`)
  }
  const timeout = sleep(ROUND_TIMEOUT_MS)
  await Promise.race([done, timeout])
  // Anything still on the wire for this round (Radiator's frames of one change go out together).
  await sleep(5)
  const cpuMs = v.proc.cpuMs() - cpu0
  for (const c of v.clients) c.onMessage = null

  const errors: string[] = []
  const times: number[] = []
  let missing = 0
  const ref = v.clients[0]!.messages.slice(start[0])
  const byType: RoundResult['byType'] = {}
  for (const m of ref) {
    const t = (byType[m.type] ??= { frames: 0, bytes: 0 })
    t.frames++
    t.bytes += m.bytes
  }
  if (build !== null) {
    const fin = ref.find((m) => m.type === 'build.finished')
    if (!template && fin?.text) template = fin.text
    updatedTemplate ??= ref.find((m) => m.type === 'build.updated')?.text ?? null
    const data = fin?.text ? (JSON.parse(fin.text) as { data: { build: { id: string } } }).data : null
    if (data?.build.id !== build)
      errors.push(`client 0's build.finished is for ${data?.build.id}, the POST stored ${build}`)
  }
  for (const [i, c] of v.clients.entries()) {
    const mine = c.messages.slice(start[i])
    const fin = mine.find((m) => m.type === 'build.finished')
    if (!fin) {
      missing++
      continue
    }
    times.push(fin.t - t0)
    if (
      mine.length !== ref.length ||
      mine.some((m, k) => m.id !== ref[k]!.id || m.type !== ref[k]!.type || m.bytes !== ref[k]!.bytes)
    )
      if (errors.length < 5)
        errors.push(
          `client ${i} got ${mine.map((m) => `${m.id}:${m.type}`).join(',')}; client 0 ${ref.map((m) => `${m.id}:${m.type}`).join(',')}`
        )
    if (c.closed && errors.length < 5) errors.push(`client ${i} was closed (${c.closeCode})`)
  }
  const first = Math.min(...times)
  const spread = times.map((t) => t - first)
  if (missing) errors.push(`${missing} of ${n} clients never got the build.finished (${ROUND_TIMEOUT_MS / 1000} s)`)
  return {
    times,
    spread,
    answerMs,
    cpuMs,
    frames: ref.length,
    bytes: ref.reduce((a, m) => a + m.bytes, 0),
    byType,
    missing,
    errors,
  }
}

export interface Row {
  level: number
  transport: string
  server: string
  rounds: number
  p50: number
  p99: number
  max: number
  /** The median over the rounds of each round's p99 (steadier than the pooled p99 on a shared machine). */
  roundP99: number
  /** p99 of each client's build.finished after the round's first client's. */
  spreadP99: number
  answerP50: number
  cpuPerRoundMs: number
  framesPerChange: number
  bytesPerChange: number
  byType: Record<string, { frames: number; bytes: number }>
  /** Every client's frames ids strictly increasing over the whole run (no duplicate, no reorder). */
  ordered: boolean
  errors: string[]
}

export function summarize(level: number, v: Variant, rs: RoundResult[]): Row {
  const all = rs.flatMap((r) => r.times).sort((a, b) => a - b)
  const answers = rs.map((r) => r.answerMs).sort((a, b) => a - b)
  const last = rs[rs.length - 1]!
  return {
    level,
    transport: v.transport,
    server: v.name,
    rounds: rs.length,
    p50: quantile(all, 0.5),
    p99: quantile(all, 0.99),
    max: all[all.length - 1] ?? NaN,
    roundP99: median(
      rs.map((r) =>
        quantile(
          [...r.times].sort((a, b) => a - b),
          0.99
        )
      )
    ),
    spreadP99: quantile(
      rs.flatMap((r) => r.spread).sort((a, b) => a - b),
      0.99
    ),
    answerP50: quantile(answers, 0.5),
    cpuPerRoundMs: rs.reduce((a, r) => a + r.cpuMs, 0) / rs.length,
    framesPerChange: last.frames,
    bytesPerChange: last.bytes,
    byType: last.byType,
    ordered: true,
    errors: rs.flatMap((r) => r.errors).slice(0, 10),
  }
}

/** Over the whole run: every client's ids strictly increase (snapshot first; nothing twice, nothing back). */
export function orderedIds(clients: BenchClient[]): string[] {
  const bad: string[] = []
  for (const [i, c] of clients.entries()) {
    let prev = -1
    for (const m of c.messages) {
      if (m.id < 0 || (m.id <= prev && !(m.type === 'snapshot' && m.id === prev))) {
        bad.push(`client ${i}: id ${m.id} (${m.type}) after ${prev}`)
        break
      }
      prev = m.id
    }
    if (bad.length >= 5) break
  }
  return bad
}

export async function benchFanout(): Promise<string> {
  runTag = `${process.pid}-${Date.now()}`
  const before = machine()
  const dataDir = mkdtempSync(join(tmpdir(), 'radiator-bench-fanout-'))
  const radiator = await startRadiator(dataDir)
  const raw = await startBaseline('ws')
  const rawClients: BenchClient[] = []
  const sio = await startBaseline('socketio')
  const wsUrl = (p: Proc, path: string) => `${p.url.replace('http', 'ws')}${path}`
  const variants: Variant[] = [
    {
      name: 'Radiator',
      kind: 'radiator',
      transport: 'ws',
      proc: radiator,
      clients: [],
      connect: (i) => new WsBench(wsUrl(radiator, '/live'), i === 0),
    },
    {
      name: 'raw ws broadcast',
      kind: 'ws',
      transport: 'ws',
      proc: raw,
      clients: rawClients,
      connect: () => new WsBench(wsUrl(raw, '/live')),
    },
    // The same server and clients (4 × 5,000 sockets would pass a 20,000 open-files limit).
    {
      name: "raw ws, Radiator's 2 frames",
      kind: 'ws2',
      transport: 'ws',
      proc: raw,
      clients: rawClients,
      connect: () => new WsBench(wsUrl(raw, '/live')),
    },
    {
      name: 'socket.io io.emit',
      kind: 'socketio',
      transport: 'ws',
      proc: sio,
      clients: [],
      connect: () => new SocketIoBench(sio.url),
    },
  ]
  const rows: Row[] = []
  const lines: string[] = []
  try {
    for (const level of LEVELS) {
      for (const v of variants) {
        const more = await openMany(level - v.clients.length, (i) => v.connect(v.clients.length + i))
        v.clients.push(...more)
      }
      await sleep(200)
      // The first warm-up round of Radiator goes first: it captures the frame the baselines send.
      const results = new Map<Variant, RoundResult[]>(variants.map((v) => [v, []]))
      for (let r = 0; r < WARMUP + ROUNDS; r++)
        for (let k = 0; k < variants.length; k++) {
          const v = variants[r < WARMUP ? k : (r + k) % variants.length]!
          const res = await round(v)
          if (r >= WARMUP) results.get(v)!.push(res)
          await sleep(10)
        }
      for (const v of variants) {
        const row = summarize(level, v, results.get(v)!)
        const bad = orderedIds(v.clients)
        row.ordered = bad.length === 0
        row.errors.push(...bad)
        rows.push(row)
      }
    }
    for (const v of variants) for (const c of v.clients) c.close()

    if (process.env.BENCH_SIDE !== '0') {
      const pollAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
      const side: Variant[] = [
        {
          name: 'Radiator',
          kind: 'radiator',
          transport: 'sse',
          proc: radiator,
          clients: [],
          connect: (i) => new SseBench(`${radiator.url}/live/sse`, i === 0),
        },
        {
          name: 'Radiator',
          kind: 'radiator',
          transport: 'poll',
          proc: radiator,
          clients: [],
          connect: (i) => new PollBench(radiator.url, pollAgent, i === 0),
        },
      ]
      for (const v of side) {
        v.clients = await openMany(SIDE_CLIENTS, (i) => v.connect(i))
        await sleep(200)
        const rs: RoundResult[] = []
        for (let r = 0; r < WARMUP + ROUNDS; r++) {
          const res = await round(v)
          if (r >= WARMUP) rs.push(res)
          // A long poller re-polls after each answer: let every one be held again.
          await sleep(v.transport === 'poll' ? 100 : 10)
        }
        const row = summarize(SIDE_CLIENTS, v, rs)
        const bad = orderedIds(v.clients)
        row.ordered = bad.length === 0
        row.errors.push(...bad)
        rows.push(row)
        for (const c of v.clients) c.close()
      }
      pollAgent.destroy()
    }
  } finally {
    await Promise.all([radiator.stop(), raw.stop(), sio.stop()])
    rmSync(dataDir, { recursive: true, force: true })
    agent.destroy()
  }
  const after = machine()

  const base = (level: number, server: string) =>
    rows.find((r) => r.level === level && r.server === server && r.transport === 'ws')
  const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}×` : '-')
  lines.push(
    `\nTime to truth: one webhook POST → every client has the build.finished (${ROUNDS} rounds after ${WARMUP} warm-up, variants taking turns; every client in this process; ratios are of the round p99, the median over rounds of each round's p99; ${before.cores} cores, load ${before.load1} before, ${after.load1} after)`,
    mdTable(
      [
        'clients',
        'transport',
        'server',
        'p50 ms',
        'p99 ms',
        'max ms',
        'round p99 ms',
        '÷ raw ws',
        '÷ raw ws 2 frames',
        '÷ socket.io',
        'first→last p99 ms',
        'POST answered p50 ms',
        'server CPU/round ms',
        'check',
      ],
      rows.map((r) => [
        r.level,
        r.transport,
        r.server,
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        ms(r.roundP99),
        ratio(r.roundP99, base(r.level, 'raw ws broadcast')?.roundP99),
        ratio(r.roundP99, base(r.level, "raw ws, Radiator's 2 frames")?.roundP99),
        ratio(r.roundP99, base(r.level, 'socket.io io.emit')?.roundP99),
        ms(r.spreadP99),
        ms(r.answerP50),
        ms(r.cpuPerRoundMs),
        r.errors.length
          ? `FAILED: ${r.errors.slice(0, 2).join('; ')}`
          : r.ordered
            ? 'every client every frame once, in order'
            : 'ORDER',
      ])
    )
  )
  const rad = rows.find((r) => r.server === 'Radiator' && r.transport === 'ws')
  if (rad)
    lines.push(
      `Radiator frames per client per build change: ${rad.framesPerChange} (${Object.entries(rad.byType)
        .map(([t, x]) => `${t} ${x.frames} × ${Math.round(x.bytes / x.frames)} B`)
        .join(
          ', '
        )}), ${rad.bytesPerChange} B in all; raw ws and socket.io send one frame of the build.finished's size, "raw ws, Radiator's 2 frames" both`
    )
  const file = writeJson('fanout', { machine: { before, after }, rounds: ROUNDS, warmup: WARMUP, rows })
  lines.push(`JSON: ${file}`)
  return lines.join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchFanout())
