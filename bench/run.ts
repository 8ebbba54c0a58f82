/**
 * `npm run bench [-- part …]`: every benchmark, each reported against a baseline measured in the
 * same run on the same machine; with part names, only those. Parts: writer, collect, summary
 * (bench/writer.ts, bench/collect.ts), fanout, storm, ingest, memory (bench/fanout.ts, storm.ts,
 * ingest.ts, memory.ts), queries, endurance, pageweight (bench/queries.ts, endurance.ts,
 * pageweight.ts: read latency over a seeded 10-million-sample database, a 10-minute soak, the
 * dashboard's bytes and time to a painted board). Those three have no baseline server: they
 * report absolute figures (queries against its p99 < 100 ms target) and check their own results.
 * The live, ingest and later parts print markdown tables and write .artifacts/bench/<part>.json.
 */
import { benchCollect, benchSummary } from './collect.ts'
import { benchEndurance } from './endurance.ts'
import { benchFanout } from './fanout.ts'
import { benchIngest } from './ingest.ts'
import { benchMemory } from './memory.ts'
import { benchPageweight } from './pageweight.ts'
import { benchQueries } from './queries.ts'
import { benchStorm } from './storm.ts'
import { benchWriter } from './writer.ts'

const PARTS: Record<string, () => Promise<string>> = {
  writer: benchWriter,
  collect: benchCollect,
  summary: benchSummary,
  fanout: benchFanout,
  storm: benchStorm,
  ingest: benchIngest,
  memory: benchMemory,
  queries: benchQueries,
  endurance: benchEndurance,
  pageweight: benchPageweight,
}

const asked = process.argv.slice(2)
const unknown = asked.filter((p) => !(p in PARTS))
if (unknown.length) {
  console.error(`unknown part ${unknown.join(', ')}; parts: ${Object.keys(PARTS).join(', ')}`)
  process.exit(2)
}
const failed: string[] = []
for (const name of asked.length ? asked : Object.keys(PARTS)) {
  const t0 = performance.now()
  try {
    console.log(await PARTS[name]!())
  } catch (e) {
    // One broken part must not hide the others' results; the run still ends non-zero.
    failed.push(name)
    console.error(`\n${name} FAILED:`, e)
  }
  console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)`)
}
if (failed.length) {
  console.error(`failed parts: ${failed.join(', ')}`)
  process.exit(1)
}
