/**
 * `npm run bench -- storm`: a reconnect storm. 200 pipelines seeded through signed generic
 * deliveries, 1,000 WebSocket clients connected, the server stopped with SIGTERM (clients see 1001)
 * and started again on the same DATA_DIR and port; the moment it prints its URL every client
 * reconnects at once with `?since=<its last id>`, while deliveries keep arriving (one every 20 ms
 * during the storm, three more once every client is back).
 *
 * Reported: time from "server up" to each client's snapshot (its resume point) and to the client
 * being current (it has every event published during the storm), p50/p99/max; bytes per client
 * until resumed; restart timings. Checked: every client was closed with 1001; each got a snapshot
 * with its own id as resume point, not a reset, carrying no state (resumed); and after it every event
 * published after the restart exactly once, in id order, the same list for every client, as many as
 * the deliveries made (one per delivery: a build reaching a final state is one build.finished).
 *
 * Then fresh screens: as many clients at once with no resume point, each sent the whole board, once
 * as plain text and once offering permessage-deflate as browsers do, then the same on SSE without
 * and with gzip: time to snapshot, its raw and on-the-wire size, the server's CPU during it, and
 * what compressing the shared state costs once.
 *
 * Env: BENCH_STORM_CLIENTS (1000), BENCH_STORM_PIPELINES (200), BENCH_STORM_DURING (10),
 * BENCH_STORM_HISTORY (3 builds per pipeline, seeded with varied commits).
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { constants, deflateRawSync, gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import http from 'node:http'
import { openMany, SseBench, WsBench } from './clients.ts'
import { freePort, GENERIC_TOKEN, machine, mdTable, ms, quantile, sleep, startRadiator, writeJson } from './procs.ts'

/** Live events per delivery: one per build change (a finishing build is one build.finished). */
const PER_DELIVERY = 1
const CLIENTS = Number(process.env.BENCH_STORM_CLIENTS ?? 1000)
const PIPELINES = Number(process.env.BENCH_STORM_PIPELINES ?? 200)
const DURING = Number(process.env.BENCH_STORM_DURING ?? 10)
const HISTORY = Number(process.env.BENCH_STORM_HISTORY ?? 3)
const AFTER = 3

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })

const WORDS = (
  'fix add remove update refactor bump deps test flaky login cache api web worker retry timeout docs ' +
  'readme build lint types config parser router metrics beacon storage migrate schema index query'
).split(' ')
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!
const AUTHORS = Array.from({ length: 30 }, (_, i) => `dev-${randomBytes(3).toString('hex')}-${i}`)
let buildNumber = 0

/**
 * One delivery for `pipeline` (p<N>), with what real builds vary: commit SHA, subject, author, URL,
 * project, times. The snapshot's compressed size depends on it (one repeated commit compresses 21×;
 * varied ones about 7×).
 */
async function deliver(url: string, id: string, pipeline: string, status: string): Promise<void> {
  const n = Number(pipeline.slice(1))
  const author = pick(AUTHORS)
  const start = Date.UTC(2026, 10, 24, 10) + Math.floor(Math.random() * 3_600_000)
  const number = ++buildNumber
  const body = JSON.stringify({
    id,
    project: `acme/service-${n % 40}`,
    pipeline,
    branch: n % 4 ? 'main' : `feature/${pipeline}`,
    status,
    number,
    actor: author,
    commit: {
      sha: randomBytes(20).toString('hex'),
      subject: `${Array.from({ length: 3 + (number % 6) }, () => pick(WORDS)).join(' ')} (#${1000 + number})`,
      author,
    },
    url: `https://ci.example.com/acme/${pipeline}/builds/${number}`,
    startedAt: new Date(start).toISOString(),
    finishedAt: new Date(start + 60_000 + Math.floor(Math.random() * 600_000)).toISOString(),
  })
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      `${url}/hooks/generic`,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${GENERIC_TOKEN}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (r) => {
        let s = ''
        r.on('data', (c) => (s += c))
        r.on('end', () => resolve({ status: r.statusCode!, body: s }))
      }
    )
    req.on('error', reject)
    req.end(body)
  })
  if (res.status !== 200 || !JSON.parse(res.body).stored) throw new Error(`delivery ${id}: ${res.status} ${res.body}`)
}

const q = (xs: number[], p: number) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    p
  )

export async function benchStorm(): Promise<string> {
  const before = machine()
  const dataDir = mkdtempSync(join(tmpdir(), 'radiator-bench-storm-'))
  const port = await freePort()
  const env = { PORT: String(port) }
  let server = await startRadiator(dataDir, env)
  const tag = `${process.pid}-${Date.now()}`
  const errors: string[] = []
  try {
    // Seed: HISTORY builds per pipeline (a fifth of them failing), eight deliveries in flight.
    for (let h = 0; h < HISTORY; h++)
      for (let i = 0; i < PIPELINES; i += 8)
        await Promise.all(
          Array.from({ length: Math.min(8, PIPELINES - i) }, (_, k) =>
            deliver(server.url, `seed-${tag}-${h}-${i + k}`, `p${i + k}`, Math.random() < 0.2 ? 'failure' : 'success')
          )
        )
    const wsUrl = `${server.url.replace('http', 'ws')}/live`
    const clients = await openMany(CLIENTS, () => new WsBench(wsUrl))
    // One live event each, so every client resumes from an id it was sent live.
    await deliver(server.url, `pre-${tag}`, 'p0', 'failure')
    const t0 = Date.now()
    while (clients.some((c) => !c.messages.some((m) => m.type === 'build.finished')) && Date.now() - t0 < 30_000)
      await sleep(10)
    const since = clients.map((c) => c.lastId)
    if (new Set(since).size !== 1)
      errors.push(`clients disagree on their last id before the restart: ${[...new Set(since)].join(',')}`)

    // Restart.
    const tStop = performance.now()
    const code = await server.stop()
    const stopMs = performance.now() - tStop
    if (code !== 0) errors.push(`SIGTERM exit code ${code}`)
    await sleep(50)
    const notGoingAway = clients.filter((c) => c.closeCode !== 1001).length
    if (notGoingAway)
      errors.push(
        `${notGoingAway} clients were not closed with 1001 (${clients.find((c) => c.closeCode !== 1001)?.closeCode})`
      )
    const tStart = performance.now()
    server = await startRadiator(dataDir, env)
    const tUp = performance.now()
    const startMs = tUp - tStart

    // The storm: every client at once, from its last id; deliveries keep coming meanwhile.
    const again = clients.map((_c, i) => new WsBench(`${wsUrl}?since=${since[i]}`, i === 0, true))
    const opened = Promise.allSettled(again.map((c) => c.opened))
    const during: Promise<void>[] = []
    for (let k = 0; k < DURING; k++) {
      during.push(deliver(server.url, `during-${tag}-${k}`, `p${k % PIPELINES}`, k % 2 ? 'success' : 'failure'))
      await sleep(20)
    }
    await Promise.all(during)
    const failedOpen = (await opened).filter((r) => r.status === 'rejected').length
    if (failedOpen) errors.push(`${failedOpen} clients failed to reconnect`)
    const want = PER_DELIVERY * DURING
    const t1 = Date.now()
    while (again.some((c) => c.messages.filter((m) => m.type !== 'snapshot').length < want) && Date.now() - t1 < 60_000)
      await sleep(10)
    for (let k = 0; k < AFTER; k++)
      await deliver(server.url, `after-${tag}-${k}`, `p${k}`, k % 2 ? 'failure' : 'success')
    const t2 = Date.now()
    while (
      again.some((c) => c.messages.filter((m) => m.type !== 'snapshot').length < PER_DELIVERY * (DURING + AFTER)) &&
      Date.now() - t2 < 30_000
    )
      await sleep(10)
    await sleep(100)

    // Timings and checks.
    const snapAt: number[] = []
    const currentAt: number[] = []
    const bytes: number[] = []
    const total: number[] = []
    const ref = again[0]!.messages.filter((m) => m.type !== 'snapshot').map((m) => m.id)
    if (ref.length !== PER_DELIVERY * (DURING + AFTER))
      errors.push(
        `client 0 got ${ref.length} events after the restart; ${DURING + AFTER} deliveries make ${PER_DELIVERY * (DURING + AFTER)}`
      )
    if (ref.length && ref[0]! <= since[0]!)
      errors.push(`the first event after the restart has id ${ref[0]}, not above ${since[0]}`)
    let pipelinesSeen = -1
    for (const [i, c] of again.entries()) {
      const [snap, ...events] = c.messages
      if (snap?.type !== 'snapshot') {
        if (errors.length < 10) errors.push(`client ${i}: no snapshot first`)
        continue
      }
      const data = JSON.parse(snap.text ?? snap.raw!.toString('utf8')).data as {
        reset: boolean
        resumed?: boolean
        pipelines?: unknown[]
      }
      if (i === 0) pipelinesSeen = data.pipelines?.length ?? 0
      // A resume carries no state ("resumed": the client keeps its own) — only a reset would need it.
      if (snap.id !== since[i] || data.reset || data.resumed !== true)
        if (errors.length < 10)
          errors.push(
            `client ${i}: snapshot id ${snap.id} (resumed from ${since[i]}), reset ${data.reset}, resumed ${data.resumed}`
          )
      snap.text = snap.raw = undefined
      const ids = events.map((m) => m.id)
      if (ids.length !== ref.length || ids.some((id, k) => id !== ref[k] || (k > 0 && id <= ids[k - 1]!)))
        if (errors.length < 10) errors.push(`client ${i}: events ${ids.join(',')} ≠ client 0's ${ref.join(',')}`)
      snapAt.push(snap.t - tUp)
      // Current: it holds every event of the storm's deliveries (replayed or live).
      const last = events[want - 1]
      if (last) currentAt.push(last.t - tUp)
      bytes.push(snap.bytes)
      total.push(snap.bytes + events.reduce((a, m) => a + m.bytes, 0))
    }
    for (const c of again) c.close()

    // The same storm on the warm process, with no deliveries meanwhile: what the cold start and
    // the snapshot rebuilt after each delivery add to the one above.
    await sleep(500)
    const warmSince = again.map((c) => c.lastId)
    const tWarm = performance.now()
    const warm = warmSince.map((id) => new WsBench(`${wsUrl}?since=${id}`))
    const t3 = Date.now()
    while (warm.some((c) => !c.messages.length) && Date.now() - t3 < 60_000) await sleep(5)
    const warmAt = warm.filter((c) => c.messages[0]?.type === 'snapshot').map((c) => c.messages[0]!.t - tWarm)
    if (warmAt.length !== CLIENTS) errors.push(`warm storm: ${CLIENTS - warmAt.length} clients got no snapshot`)
    for (const c of warm) c.close()

    // Fresh screens: as many clients with no resume point at once, each needing the whole board;
    // first without permessage-deflate, then offering it as browsers do. The state is built once
    // per head and shared; offered deflate, it is also compressed once and shared.
    const fresh: Record<
      string,
      { p50: number; p99: number; max: number; rawBytes: number; wireBytes: number; cpuMs: number }
    > = {}
    let compressMs = NaN
    for (const way of ['text', 'deflate'] as const) {
      await sleep(500)
      const cpu0 = server.cpuMs()
      const tFresh = performance.now()
      const cs = Array.from(
        { length: CLIENTS },
        (_, i) => new WsBench(wsUrl, false, i === 0, { deflate: way === 'deflate' })
      )
      const t4 = Date.now()
      while (cs.some((c) => !c.messages.length && !c.closed) && Date.now() - t4 < 60_000) await sleep(5)
      const cpuMs = server.cpuMs() - cpu0
      const at = cs.filter((c) => c.messages[0]?.type === 'snapshot').map((c) => c.messages[0]!.t - tFresh)
      if (at.length !== CLIENTS) errors.push(`fresh storm (${way}): ${CLIENTS - at.length} clients got no snapshot`)
      const first = cs[0]!.messages[0]
      const text = first?.raw?.toString('utf8') ?? ''
      const data = text ? (JSON.parse(text).data as { resumed: boolean; pipelines?: unknown[] }) : undefined
      if (data?.resumed !== false || data.pipelines?.length !== PIPELINES)
        errors.push(
          `fresh storm (${way}): client 0's snapshot has ${data?.pipelines?.length} pipelines, resumed ${data?.resumed}`
        )
      fresh[way] = freshFigures(at, first?.bytes ?? NaN, cs, cpuMs)
      if (way === 'deflate' && text) {
        // What the server pays once per head for the compressed state (zlib level 6, this process).
        const times = Array.from({ length: 20 }, () => {
          const t = performance.now()
          deflateRawSync(text, { finishFlush: constants.Z_SYNC_FLUSH })
          return performance.now() - t
        })
        compressMs = q(times, 0.5)
        fresh.gzip = { ...fresh[way], wireBytes: gzipSync(text).length }
      }
      for (const c of cs) c.close()
    }
    // The same fresh screens on SSE: the raw stream, then taking gzip as browsers offer it (the
    // snapshot's state is the segment compressed once per head for WebSocket; each connection
    // compresses only its own head).
    for (const way of ['sse', 'sse gzip'] as const) {
      await sleep(500)
      const cpu0 = server.cpuMs()
      const tFresh = performance.now()
      const acceptEncoding = way === 'sse gzip' ? 'gzip, deflate, br, zstd' : ''
      const cs = Array.from(
        { length: CLIENTS },
        (_, i) => new SseBench(`${server.url}/live/sse`, i === 0, undefined, acceptEncoding)
      )
      const t4 = Date.now()
      while (cs.some((c) => !c.messages.length && !c.closed) && Date.now() - t4 < 60_000) await sleep(5)
      const cpuMs = server.cpuMs() - cpu0
      const at = cs.filter((c) => c.messages[0]?.type === 'snapshot').map((c) => c.messages[0]!.t - tFresh)
      if (at.length !== CLIENTS) errors.push(`fresh storm (${way}): ${CLIENTS - at.length} clients got no snapshot`)
      const first = cs[0]!.messages[0]
      const data = first?.text
        ? (JSON.parse(first.text).data as { resumed: boolean; pipelines?: unknown[] })
        : undefined
      if (data?.resumed !== false || data.pipelines?.length !== PIPELINES)
        errors.push(`fresh storm (${way}): client 0's snapshot has ${data?.pipelines?.length} pipelines`)
      fresh[way] = freshFigures(at, first?.bytes ?? NaN, cs, cpuMs)
      for (const c of cs) c.close()
    }
    const after = machine()
    const row = {
      clients: CLIENTS,
      pipelines: PIPELINES,
      pipelinesInSnapshot: pipelinesSeen,
      stopMs,
      startMs,
      snapshot: { p50: q(snapAt, 0.5), p99: q(snapAt, 0.99), max: Math.max(...snapAt) },
      current: { p50: q(currentAt, 0.5), p99: q(currentAt, 0.99), max: Math.max(...currentAt) },
      warm: { p50: q(warmAt, 0.5), p99: q(warmAt, 0.99), max: Math.max(...warmAt) },
      deliveriesDuringStormMs: DURING * 20,
      snapshotBytes: q(bytes, 0.5),
      bytesPerClient: q(total, 0.5),
      fresh,
      compressOnceMs: compressMs,
      errors,
    }
    const file = writeJson('storm', { machine: { before, after }, ...row })
    return [
      `\nReconnect storm: ${CLIENTS} WebSocket clients, ${PIPELINES} pipelines; SIGTERM took ${ms(stopMs)} ms, the new process printed its URL ${ms(startMs)} ms after it was spawned; then every client reconnected at once with ?since=<its last id> while ${DURING} deliveries arrived 20 ms apart (${before.cores} cores, load ${before.load1} before, ${after.load1} after)`,
      mdTable(
        ['from server up to', 'p50 ms', 'p99 ms', 'max ms'],
        [
          ['snapshot received (resumed)', ms(row.snapshot.p50), ms(row.snapshot.p99), ms(row.snapshot.max)],
          [
            `current (has all ${want} events of the storm's deliveries)`,
            ms(row.current.p50),
            ms(row.current.p99),
            ms(row.current.max),
          ],
          [
            'reference: the same clients again on the warm process, no deliveries: snapshot received',
            ms(row.warm.p50),
            ms(row.warm.p99),
            ms(row.warm.max),
          ],
        ]
      ),
      `\nFresh screens: ${CLIENTS} clients at once with no resume point (the whole board each), on the warm process; times from the first connect`,
      mdTable(
        ['clients offer', 'snapshot p50 ms', 'p99 ms', 'max ms', 'snapshot raw B', 'on the wire B', 'server CPU ms'],
        (['text', 'deflate', 'sse', 'sse gzip'] as const).map((way) => {
          const f = fresh[way]!
          return [
            {
              text: 'ws, no compression',
              deflate: 'ws, permessage-deflate',
              sse: 'SSE, no compression',
              'sse gzip': 'SSE, gzip',
            }[way],
            ms(f.p50),
            ms(f.p99),
            ms(f.max),
            Math.round(f.rawBytes).toLocaleString('en'),
            Math.round(f.wireBytes).toLocaleString('en'),
            ms(f.cpuMs),
          ]
        })
      ),
      `compressing the shared state once: ${ms(compressMs)} ms (zlib level 6); the same snapshot gzipped: ${Math.round(fresh.gzip?.wireBytes ?? NaN).toLocaleString('en')} B`,
      `bytes per client: snapshot ${Math.round(row.snapshotBytes).toLocaleString('en')} B (${pipelinesSeen} pipelines), ${Math.round(row.bytesPerClient).toLocaleString('en')} B with the ${PER_DELIVERY * (DURING + AFTER)} events after it; ${errors.length ? `FAILED: ${errors.slice(0, 3).join('; ')}` : `every client: closed 1001, a resume snapshot at its own resume point (no reset, no state), then all ${ref.length} events published after the restart once, in order`}`,
      `JSON: ${file}`,
    ].join('\n')
  } finally {
    await server.stop()
    agent.destroy()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchStorm())

/** One fresh-storm row: when the snapshots arrived, the first one's size raw and (median) on the wire. */
function freshFigures(at: number[], rawBytes: number, cs: { firstWireBytes: number | undefined }[], cpuMs: number) {
  const wire = cs.map((c) => c.firstWireBytes ?? NaN).filter((n) => !Number.isNaN(n))
  return { p50: q(at, 0.5), p99: q(at, 0.99), max: Math.max(...at), rawBytes, wireBytes: q(wire, 0.5), cpuMs }
}
