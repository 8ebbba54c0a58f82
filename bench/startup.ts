/**
 * Start-up time (process spawn → first /healthz 200) and resident memory once idle just after
 * start, for the server run through tsx (`node --import tsx server/main.ts`, how it ran before the
 * production build) and compiled (`node dist/server/main.js`, how `npm start` and the image run it).
 * Runs alternate between the two, each on a fresh empty DATA_DIR, after one unmeasured warm-up run
 * of each (tsx's transform cache, the OS page cache). `npm run bench:startup`; BENCH_RUNS (default 7).
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const RUNS = Number(process.env.BENCH_RUNS ?? 7)
const IDLE_MS = 1000

const variants = {
  tsx: ['--import', 'tsx', 'server/main.ts'],
  compiled: ['dist/server/main.js'],
} as const
type Variant = keyof typeof variants

interface Sample {
  readyMs: number
  rssMb: number
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) / 1024
}

async function once(variant: Variant): Promise<Sample> {
  const dataDir = mkdtempSync(join(tmpdir(), 'radiator-startup-'))
  const t0 = performance.now()
  const child = spawn(process.execPath, variants[variant], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    let out = ''
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d
        const m = /Dashboard:\s+(http:\/\/\S+?)\/\n/.exec(out)
        if (m) resolve(m[1]!)
      })
      child.once('exit', (code) => reject(new Error(`${variant} exited ${code} before listening`)))
    })
    for (;;) {
      const ok = await fetch(`${url}/healthz`).then(
        (r) => r.status === 200,
        () => false
      )
      if (ok) break
      await new Promise((r) => setTimeout(r, 2))
    }
    const readyMs = performance.now() - t0
    await new Promise((r) => setTimeout(r, IDLE_MS))
    return { readyMs, rssMb: rssMb(child.pid!) }
  } finally {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

if (spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' }).status !== 0)
  process.exit(1)

const samples: Record<Variant, Sample[]> = { tsx: [], compiled: [] }
await once('tsx')
await once('compiled')
for (let i = 0; i < RUNS; i++)
  for (const v of ['tsx', 'compiled'] as const) {
    // Neither variant may build the dashboard on start (sources edited meanwhile): rebuild first, unmeasured.
    spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'inherit' })
    samples[v].push(await once(v))
  }

const row = (v: Variant) => {
  const ready = samples[v].map((s) => s.readyMs)
  const rss = samples[v].map((s) => s.rssMb)
  return {
    ready: median(ready),
    readyMin: Math.min(...ready),
    readyMax: Math.max(...ready),
    rss: median(rss),
    rssMin: Math.min(...rss),
    rssMax: Math.max(...rss),
  }
}
const t = row('tsx')
const c = row('compiled')
const f = (n: number) => n.toFixed(0)
console.log(
  `start-up: spawn → /healthz 200, and RSS ${IDLE_MS} ms later; ${RUNS} runs each (median, min–max), node ${process.version}`
)
console.log(`| variant | start-up ms | RSS MB |`)
console.log(`|---|---|---|`)
console.log(
  `| tsx (\`node --import tsx server/main.ts\`) | ${f(t.ready)} (${f(t.readyMin)}–${f(t.readyMax)}) | ${f(t.rss)} (${f(t.rssMin)}–${f(t.rssMax)}) |`
)
console.log(
  `| compiled (\`node dist/server/main.js\`) | ${f(c.ready)} (${f(c.readyMin)}–${f(c.readyMax)}) | ${f(c.rss)} (${f(c.rssMin)}–${f(c.rssMax)}) |`
)
console.log(`| compiled / tsx | ${(c.ready / t.ready).toFixed(2)} | ${(c.rss / t.rss).toFixed(2)} |`)
