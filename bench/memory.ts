/**
 * `npm run bench -- memory`: server memory per idle live client, per transport. For each transport
 * a fresh Radiator process (as `npm start` runs it, with tsx) is measured idle, then with N idle
 * clients connected and settled; the RSS difference divided by N is the cost of one client. Also
 * the idle server's own RSS. Target (issue 15): ≤ 30 KB per idle client on every transport. The
 * server's own /metrics tells how much of it is V8 heap in use (not collected first: garbage counts)
 * and external memory (Buffers); the rest is native (sockets, HTTP parsers, allocator slack).
 *
 * Env: BENCH_MEMORY_CLIENTS (1000), BENCH_MEMORY_TRANSPORTS (ws,sse,poll).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openMany, PollBench, SseBench, WsBench, type BenchClient } from './clients.ts'
import { machine, mdTable, sleep, startRadiator, writeJson } from './procs.ts'

const N = Number(process.env.BENCH_MEMORY_CLIENTS ?? 1000)
const TRANSPORTS = (process.env.BENCH_MEMORY_TRANSPORTS ?? 'ws,sse,poll').split(',') as ('ws' | 'sse' | 'poll')[]
/** Settling time after connecting, so lazily allocated buffers and the heap have grown to steady state. */
const SETTLE_MS = 3000

/** V8's heap in use and memory outside it held by JS objects (Buffers), from the server's own /metrics. */
async function heapKb(url: string): Promise<{ heap: number; external: number }> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1024
  return { heap: gauge('nodejs_heap_size_used_bytes'), external: gauge('nodejs_external_memory_bytes') }
}

function rssKb(pid: number | undefined): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}

export async function benchMemory(): Promise<string> {
  const before = machine()
  const rows: (string | number)[][] = []
  const json: Record<string, unknown>[] = []
  for (const transport of TRANSPORTS) {
    const dataDir = mkdtempSync(join(tmpdir(), 'radiator-bench-memory-'))
    const proc = await startRadiator(dataDir, { LIVE_POLL_TIMEOUT_MS: '25000' })
    const agent = new http.Agent({ keepAlive: true, maxSockets: N })
    let clients: BenchClient[] = []
    try {
      await sleep(SETTLE_MS)
      const idle = rssKb(proc.child.pid)
      const idleHeap = await heapKb(proc.url)
      const url = proc.url
      clients = await openMany<BenchClient & { opened: Promise<void> }>(N, () =>
        transport === 'ws'
          ? // Offering permessage-deflate as browsers do: what the server keeps per connection for it counts.
            new WsBench(`${url.replace('http', 'ws')}/live`, false, false, { deflate: true })
          : transport === 'sse'
            ? new SseBench(`${url}/live/sse`)
            : new PollBench(url, agent)
      )
      await sleep(SETTLE_MS)
      const loaded = rssKb(proc.child.pid)
      const loadedHeap = await heapKb(proc.url)
      const perClient = (loaded - idle) / N
      // Where a client's memory is: V8's heap (objects), external (Buffers), the rest native (sockets, parsers).
      const heapPer = (loadedHeap.heap - idleHeap.heap) / N
      const externalPer = (loadedHeap.external - idleHeap.external) / N
      // Correctness: every client is connected and got its snapshot.
      const ok = clients.every((c) => c.messages.some((m) => m.type === 'snapshot'))
      rows.push([
        transport,
        N,
        (idle / 1024).toFixed(1),
        (loaded / 1024).toFixed(1),
        perClient.toFixed(1),
        heapPer.toFixed(1),
        externalPer.toFixed(1),
        perClient <= 30 ? 'met' : 'not met',
        ok ? 'every client has its snapshot' : 'FAILED: a client has no snapshot',
      ])
      json.push({
        transport,
        clients: N,
        idleRssKb: idle,
        loadedRssKb: loaded,
        perClientKb: perClient,
        heapPerClientKb: heapPer,
        externalPerClientKb: externalPer,
        ok,
      })
      if (!ok) throw new Error(`${transport}: a client has no snapshot`)
    } finally {
      for (const c of clients) c.close()
      agent.destroy()
      await proc.stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  const after = machine()
  const file = writeJson('memory', { before, after, results: json })
  return [
    `\nMemory per idle live client (${N} clients per transport, each on a fresh server; ${before.cores} cores, load ${before.load1} before, ${after.load1} after)`,
    mdTable(
      [
        'transport',
        'clients',
        'idle server RSS MB',
        'with clients MB',
        'KB per client',
        'of it V8 heap KB',
        'external KB',
        'target ≤ 30 KB',
        'check',
      ],
      rows
    ),
    `JSON: ${file}`,
  ].join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchMemory())
