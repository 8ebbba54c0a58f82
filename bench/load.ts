/**
 * @module A small closed-loop HTTP load generator: `connections` keep-alive connections, each
 * sending the next request when the previous answer arrives, for `seconds`. Loopback only.
 */
import http from 'node:http'

export interface LoadResult {
  requests: number
  errors: number
  seconds: number
  rps: number
  statuses: Record<number, number>
}

export async function load(opts: {
  url: string
  body: string | Buffer
  headers?: Record<string, string>
  connections?: number
  seconds?: number
}): Promise<LoadResult> {
  const u = new URL(opts.url)
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new Error('benchmarks only target loopback')
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections ?? 32 })
  const body = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body)
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length), ...opts.headers }
  const end = Date.now() + (opts.seconds ?? 5) * 1000
  const statuses: Record<number, number> = {}
  let requests = 0
  let errors = 0
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers, agent },
        (res) => {
          statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1
          res.resume()
          res.on('end', () => {
            requests++
            resolve()
          })
        }
      )
      req.on('error', () => {
        errors++
        resolve()
      })
      req.end(body)
    })
  const t0 = Date.now()
  await Promise.all(
    Array.from({ length: opts.connections ?? 32 }, async () => {
      while (Date.now() < end) await one()
    })
  )
  const seconds = (Date.now() - t0) / 1000
  agent.destroy()
  return { requests, errors, seconds, rps: requests / seconds, statuses }
}

/** Prints a table of results with a ratio column against the first (the baseline). */
export function table(title: string, rows: [name: string, r: LoadResult][]): string {
  const base = rows[0]![1].rps
  const lines = [`\n${title}`, `${'variant'.padEnd(44)} ${'req/s'.padStart(10)} ${'ratio'.padStart(7)}  statuses`]
  for (const [name, r] of rows)
    lines.push(
      `${name.padEnd(44)} ${r.rps.toFixed(0).padStart(10)} ${(r.rps / base).toFixed(2).padStart(6)}×  ${JSON.stringify(r.statuses)}${r.errors ? ` errors=${r.errors}` : ''}`
    )
  return lines.join('\n')
}
