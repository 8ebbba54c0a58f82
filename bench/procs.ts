/**
 * @module Servers for the live and ingest benchmarks, each in its own process: the real Radiator
 * (`node --import tsx server/main.ts`, as an operator starts it) and the baselines of
 * bench/baselines.ts. Also the small helpers every part shares: percentiles, machine load, JSON out.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../', import.meta.url))
export const GENERIC_TOKEN = 'bench-generic-token'
export const GITHUB_SECRET = 'bench-github-secret'

export interface Proc {
  url: string
  child: ChildProcess
  /** SIGTERM, then resolves with the exit code (SIGKILL after 10 s). */
  stop(): Promise<number | null>
  /** CPU time the process has used (ms), read from /proc. */
  cpuMs(): number
}

/** A free loopback port (for a restart on the same port). */
export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

export function procCpuMs(pid: number | string | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100 // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return NaN
  }
}

const profArgs = () => (process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [])

/**
 * Radiator as `npm start` runs it, on loopback, open to viewers, with the webhook secrets the
 * benchmarks sign with. `BENCH_PROFILE=<dir>` adds --cpu-prof (written at a clean exit).
 */
export async function startRadiator(dataDir: string, env: Record<string, string> = {}): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...profArgs(), 'server/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      PUBLIC_DASHBOARD: 'true',
      GENERIC_WEBHOOK_TOKEN: GENERIC_TOKEN,
      GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
      LIVE_MAX_CLIENTS: '100000',
      LIVE_MAX_CLIENTS_PER_ADDRESS: '100000',
      // Heartbeats are not what is measured; a 5-minute interval keeps them out of every round.
      LIVE_HEARTBEAT_MS: '300000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr!.on('data', (d) => {
    err += d
    if (process.env.BENCH_VERBOSE) process.stderr.write(d)
  })
  // Resolved in the turn the line arrives: the reconnect storm times from this moment.
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d
      const m = /Dashboard:\s+(http:\/\/\S+?)\/\n/.exec(out)
      if (m) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`radiator exited ${code} before listening: ${err}`)))
  })
  return wrap(child, url)
}

function wrap(child: ChildProcess, url: string): Proc {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return {
    url,
    child,
    cpuMs: () => procCpuMs(child.pid),
    async stop() {
      if (child.exitCode !== null) return child.exitCode
      child.kill('SIGTERM')
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
      const code = await exited
      clearTimeout(kill)
      return code
    },
  }
}

/** A baseline server of bench/baselines.ts in its own process. */
export async function startBaseline(kind: string): Promise<Proc> {
  const file = fileURLToPath(new URL('./baselines.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', ...profArgs(), file, kind], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_WEBHOOK_SECRET: GITHUB_SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /^LISTENING (\S+)$/m.exec(out)
      if (m) {
        clearInterval(t)
        resolve(m[1]!)
      }
    }, 5)
    child.once('exit', (code) => {
      clearInterval(t)
      reject(new Error(`baseline ${kind} exited ${code}`))
    })
  })
  return wrap(child, url)
}

// ---------------------------------------------------------------------------------------------

/** The value below which `q` of the sorted `xs` lie (nearest rank). */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

export const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5
  )

/** One-minute load average and the core count, to print with each part's results. */
export function machine(): { load1: number; cores: number } {
  return { load1: Math.round(loadavg()[0]! * 100) / 100, cores: cpus().length }
}

/** Writes a part's results to .artifacts/bench/<name>.json; returns the path. */
export function writeJson(name: string, data: unknown): string {
  const dir = join(ROOT, '.artifacts', 'bench')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${name}.json`)
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`)
  return file
}

/** A markdown table. */
export function mdTable(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}

export const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '-')
export const sleep = (t: number) => new Promise((r) => setTimeout(r, t))
