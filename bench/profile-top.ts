/**
 * `tsx bench/profile-top.ts <file.cpuprofile> [n]`: the functions that took the most CPU in a
 * V8 profile (from BENCH_PROFILE=<dir>, which runs the benchmark's servers with --cpu-prof), by self
 * time and by total time (self + callees), so a result table can be explained without a GUI.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount: number
  children?: number[]
}

export function top(file: string, n = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Node[]
    startTime: number
    endTime: number
    samples: number[]
    timeDeltas: number[]
  }
  const byId = new Map(p.nodes.map((x) => [x.id, x]))
  const parent = new Map<number, number>()
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
  // Sample time per node from the deltas (hitCount alone ignores the sampling interval's jitter).
  const selfUs = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++)
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i + 1] ?? 0))
  const name = (x: Node) => {
    const f = x.callFrame
    const where = f.url.replace(/^.*\/(node_modules\/|work\/main\/)/, '').replace(/^file:\/\//, '')
    return `${f.functionName || '(anonymous)'} ${where ? `${where}:${f.lineNumber + 1}` : ''}`.trim()
  }
  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let all = 0
  for (const [id, us] of selfUs) {
    const x = byId.get(id)!
    all += us
    self.set(name(x), (self.get(name(x)) ?? 0) + us)
    // Count each function once per sample even when it recurses.
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur)!)
      if (seen.has(k)) continue
      seen.add(k)
      total.set(k, (total.get(k) ?? 0) + us)
    }
  }
  const idle = (self.get('(idle)') ?? 0) + (self.get('(program)') ?? 0)
  const fmt = (m: Map<string, number>) =>
    [...m]
      .filter(([k]) => !/^\((idle|root|program)\)/.test(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, us]) =>
          `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / (all - idle)).toFixed(1).padStart(5)}%  ${k}`
      )
      .join('\n')
  return [
    `${file}: ${(all / 1000).toFixed(0)} ms sampled, ${((all - idle) / 1000).toFixed(0)} ms busy (idle/program excluded; % of busy)`,
    'self:',
    fmt(self),
    'total:',
    fmt(total),
  ].join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  console.log(top(process.argv[2]!, Number(process.argv[3] ?? 25)))
