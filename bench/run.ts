/**
 * `npm run bench [-- part …]`: the issue-15 suite, each part reported against a baseline measured
 * in the same run on the same machine, or against its target; with part names, only those.
 *
 * The suite, in order: fanout, storm, ingest, collect, memory, pageweight, queries, endurance
 * (bench/fanout.ts, storm.ts, ingest.ts, collect.ts, memory.ts, pageweight.ts, queries.ts,
 * endurance.ts). Three more run only when named: writer (bench/writer.ts, what answering after COMMIT
 * costs), summary (collect.ts's in-process summary timing over its own 10 M samples, which
 * `queries` covers from a separate process; it seeds and rolls up 10 M rows again) and cluster
 * (bench/cluster.ts: ingest and time to truth on 1 and 3 instances on PostgreSQL + NATS against
 * SQLite alone; it needs both services).
 *
 * Each part prints its own tables and checks its own results (a failed check throws or marks the
 * part FAILED); most write .artifacts/bench/<part>.json. At the end: one markdown table of every
 * part's headline figures, seconds and check (bench/suite.ts), the same in
 * .artifacts/bench/summary.json, and a non-zero exit when a part failed.
 *
 * BENCH_QUICK=1: a smoke run of the whole suite in a few minutes (endurance 60 s, fanout at 100
 * and 1,000 clients, 5 rounds, queries over 1 M samples, 2 s per row); its figures are not the
 * issue's. Any part's own BENCH_* variable still wins.
 */
import { machine, writeJson } from './procs.ts'
import { type PartReport, report, summaryTable } from './suite.ts'

/** BENCH_QUICK's sizes, set before a part's module reads them (each reads its env when loaded). */
const QUICK: Record<string, string> = {
  BENCH_ENDURANCE_S: '60',
  BENCH_LEVELS: '100,1000',
  BENCH_ROUNDS: '5',
  BENCH_VITALS: '1000000',
  BENCH_BUILDS: '20000',
  BENCH_QUERIES_SECONDS: '2',
  BENCH_SLICES: '4',
  BENCH_INGEST_SLICES: '2',
  BENCH_PAGEWEIGHT_RUNS: '3',
}
if (process.env.BENCH_QUICK) for (const [k, v] of Object.entries(QUICK)) process.env[k] ??= v

/**
 * The whole suite's sizes, so that it fits in 15 minutes with the 10-minute endurance run: fewer
 * slices for the two throughput parts, 2 s per read row, 15 fan-out rounds, 3 page loads. With the
 * parts' own defaults a quiet run took 16.9 min (fanout 45 s, storm 27, ingest 56, collect 88,
 * memory 25, pageweight 19, queries 150 with the cached database, endurance 606). A part named alone
 * keeps its own, longer defaults; any BENCH_* variable set still wins.
 */
const SUITE_SIZES: Record<string, string> = {
  BENCH_SLICES: '6',
  BENCH_INGEST_SLICES: '3',
  BENCH_QUERIES_SECONDS: '2',
  BENCH_ROUNDS: '15',
  BENCH_PAGEWEIGHT_RUNS: '3',
}
if (process.argv.length <= 2 && !process.env.BENCH_QUICK)
  for (const [k, v] of Object.entries(SUITE_SIZES)) process.env[k] ??= v

type Part = () => Promise<() => Promise<string>>
const SUITE: Record<string, Part> = {
  fanout: async () => (await import('./fanout.ts')).benchFanout,
  storm: async () => (await import('./storm.ts')).benchStorm,
  ingest: async () => (await import('./ingest.ts')).benchIngest,
  collect: async () => (await import('./collect.ts')).benchCollect,
  memory: async () => (await import('./memory.ts')).benchMemory,
  pageweight: async () => (await import('./pageweight.ts')).benchPageweight,
  queries: async () => (await import('./queries.ts')).benchQueries,
  endurance: async () => (await import('./endurance.ts')).benchEndurance,
}
const EXTRA: Record<string, Part> = {
  writer: async () => (await import('./writer.ts')).benchWriter,
  summary: async () => (await import('./collect.ts')).benchSummary,
  cluster: async () => (await import('./cluster.ts')).benchCluster,
}
const PARTS = { ...SUITE, ...EXTRA }

const asked = process.argv.slice(2)
const unknown = asked.filter((p) => !(p in PARTS))
if (unknown.length) {
  console.error(
    `unknown part ${unknown.join(', ')}; the suite: ${Object.keys(SUITE).join(', ')}; also: ${Object.keys(EXTRA).join(', ')}`
  )
  process.exit(2)
}
const before = machine()
const t0 = performance.now()
const reports: PartReport[] = []
for (const name of asked.length ? asked : Object.keys(SUITE)) {
  const since = Date.now()
  const t = performance.now()
  let text = ''
  let error: unknown
  try {
    text = await (await PARTS[name]!())()
    console.log(text)
  } catch (e) {
    // One broken part must not hide the others' results; the run still ends non-zero.
    error = e
    console.error(`\n${name} FAILED:`, e)
  }
  const seconds = (performance.now() - t) / 1000
  console.log(`(${name}: ${seconds.toFixed(0)} s)`)
  reports.push(report(name, since, seconds, text, error))
}
const after = machine()
const total = (performance.now() - t0) / 1000
const file = writeJson('summary', { machine: { before, after }, seconds: total, parts: reports })
console.log(
  `\n## Summary: ${reports.length} part${reports.length === 1 ? '' : 's'} in ${(total / 60).toFixed(1)} min (${before.cores} cores, load ${before.load1} before, ${after.load1} after)\n`
)
console.log(summaryTable(reports))
console.log(`JSON: ${file}`)
const failed = reports.filter((r) => r.status === 'failed')
if (failed.length) {
  console.error(`failed parts: ${failed.map((r) => r.part).join(', ')}`)
  process.exit(1)
}
