/**
 * @module Load from wrk (Debian's `wrk` package), for every part that drives HTTP load (collect,
 * ingest, queries). wrk is C and LuaJIT: on a 2-core machine it leaves most of the second core to
 * the server, where a Node load generator takes a whole core and turns every comparison into "CPU
 * per request on one core". POST bodies are made per request by a Lua script, so every vitals id is
 * distinct (a repeated id would be an update, not a new sample); a GET sends none. The script
 * counts answers per status itself.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const WRK = '/usr/bin/wrk'
export const hasWrk = () => existsSync(WRK)

export interface WrkResult {
  requests: number
  seconds: number
  rps: number
  statuses: Record<number, number>
  errors: number
  /** Answer time percentiles and max (µs), as wrk measures them. */
  p50: number
  p90: number
  p99: number
  max: number
}

/**
 * The Lua side: `body` is a Lua expression over `n` (a per-thread counter) and `tag` (unique per
 * run and thread), or null for a request without one. `done` prints one JSON line per thread;
 * wrk's own summary is ignored.
 */
function script(
  method: string,
  headers: Record<string, string>,
  body: string | null,
  lua: { init?: string; request?: string } = {}
): string {
  const h = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n')
  return `
wrk.method = ${JSON.stringify(method)}
${h}
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
local n, tag = 0, nil
statuses = {} -- global: done() reads it from each thread with thread:get
function init(args)
  tag = args[1] .. "-" .. tid
  ${lua.init ?? ''}
end
function request()
  n = n + 1
  ${lua.request ?? ''}
  return wrk.format(nil, nil, nil, ${body ?? 'nil'})
end
function response(status)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency)
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    local parts = {}
    for code, count in pairs(s) do table.insert(parts, '"' .. code .. '":' .. count) end
    io.write("STATUSES {" .. table.concat(parts, ",") .. "}\\n")
  end
  local e = summary.errors
  io.write(string.format("SUMMARY %d %d %d\\n", summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout))
  io.write(string.format("LATENCY %d %d %d %d\\n", latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
`
}

export async function wrkLoad(opts: {
  url: string
  /** POST unless told (a GET sends no body). */
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  /** Lua expression, see `script`; none for a GET. */
  body?: string
  /** Unique per run: goes into the bodies' ids (see `script`). */
  tag?: string
  connections: number
  seconds: number
  threads?: number
  /** wrk's per-request timeout (s): an answer slower than this counts as an error, not a latency. */
  timeoutS?: number
  /** Lua run in each thread's init (after `tag` is set; `args` holds the tag and then `args`). */
  luaInit?: string
  /** Lua run before each request is formatted (e.g. per-request headers into wrk.headers). */
  luaRequest?: string
  args?: string[]
}): Promise<WrkResult> {
  const u = new URL(opts.url)
  if (u.hostname !== '127.0.0.1') throw new Error('benchmarks only target loopback')
  const dir = mkdtempSync(join(tmpdir(), 'radiator-wrk-'))
  try {
    const file = join(dir, 'load.lua')
    const method = opts.method ?? 'POST'
    if (method === 'GET' && opts.body) throw new Error('a GET sends no body')
    writeFileSync(
      file,
      script(method, opts.headers ?? {}, opts.body ?? null, { init: opts.luaInit, request: opts.luaRequest })
    )
    const { stdout } = await run(
      WRK,
      [
        `-t${opts.threads ?? 1}`,
        `-c${opts.connections}`,
        `-d${opts.seconds}s`,
        ...(opts.timeoutS ? ['--timeout', `${opts.timeoutS}s`] : []),
        '-s',
        file,
        opts.url,
        '--',
        opts.tag ?? 'run',
        ...(opts.args ?? []),
      ],
      { maxBuffer: 16 * 1024 * 1024 }
    )
    const statuses: Record<number, number> = {}
    for (const m of stdout.matchAll(/^STATUSES (.*)$/gm))
      for (const [code, count] of Object.entries(JSON.parse(m[1]!) as Record<string, number>))
        statuses[Number(code)] = (statuses[Number(code)] ?? 0) + count
    const s = /^SUMMARY (\d+) (\d+) (\d+)$/m.exec(stdout)
    if (!s) throw new Error(`unexpected wrk output:\n${stdout}`)
    const seconds = Number(s[2]) / 1e6
    const requests = Object.values(statuses).reduce((a, b) => a + b, 0)
    const l = /^LATENCY (\d+) (\d+) (\d+) (\d+)$/m.exec(stdout)
    return {
      requests,
      seconds,
      rps: requests / seconds,
      statuses,
      errors: Number(s[3]),
      p50: Number(l?.[1]),
      p90: Number(l?.[2]),
      p99: Number(l?.[3]),
      max: Number(l?.[4]),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
