/**
 * @module The suite's common shape: each part's headline figures, taken after it ran from the JSON
 * it wrote (.artifacts/bench/<part>.json, only when written by this run) or, for the parts that
 * write none (collect, summary, writer), from the lines it printed. `npm run bench` prints them as
 * one markdown table and writes them to .artifacts/bench/summary.json. The parts' own tables and
 * JSON stay the full record; this is the page a reader looks at first.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { mdTable, ms, ROOT } from './procs.ts'

export interface Figure {
  /** What was measured, with its unit (e.g. "round p99 ms at 1,000 clients"). */
  name: string
  value: number
  /** The issue-15 target it answers to, as text ("< 100"), and whether this run met it. */
  target?: string
  met?: boolean
}

export interface PartReport {
  part: string
  status: 'ok' | 'failed' | 'skipped'
  seconds: number
  /** The part's own correctness check, or why it failed or was skipped. */
  check: string
  figures: Figure[]
  json: string | null
}

export const JSON_DIR = join(ROOT, '.artifacts', 'bench')

/** A part's JSON, when this run wrote it (an older file from another run is not its figure). */
function partJson(dir: string, part: string, since: number): { file: string; data: any } | null {
  const file = join(dir, `${part}.json`)
  if (!existsSync(file) || statSync(file).mtimeMs < since) return null
  return { file, data: JSON.parse(readFileSync(file, 'utf8')) }
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : NaN)
const at = (x: number, target: string, met: boolean): Pick<Figure, 'target' | 'met'> =>
  Number.isFinite(x) ? { target, met } : { target }
/** The first number after `pattern` in the text (its group 1). */
const grab = (text: string, pattern: RegExp) => num(Number(pattern.exec(text)?.[1]?.replace(/,/g, '')))

type Extract = (data: any, text: string) => { figures: Figure[]; problems: string[] }

const EXTRACT: Record<string, Extract> = {
  fanout(d) {
    const rows: any[] = d?.rows ?? []
    const figures: Figure[] = []
    const problems = rows.flatMap((r) => [
      ...(r.errors ?? []).slice(0, 1).map((e: string) => `${r.level} ${r.transport} ${r.server}: ${e}`),
      ...(r.ordered === false ? [`${r.level} ${r.transport} ${r.server}: out of order`] : []),
    ])
    const row = (level: number, transport: string, server: string) =>
      rows.find((r) => r.level === level && r.transport === transport && r.server === server)
    for (const level of [...new Set(rows.map((r) => r.level as number))]) {
      const rad = row(level, 'ws', 'Radiator')
      if (!rad) continue
      const raw = num(row(level, 'ws', 'raw ws broadcast')?.roundP99)
      const sio = num(row(level, 'ws', 'socket.io io.emit')?.roundP99)
      const r = num(rad.roundP99)
      figures.push(
        { name: `WebSocket round p99 ms, ${level} clients`, value: r },
        { name: `÷ raw ws, ${level} clients`, value: r / raw, ...at(r / raw, '≤ 1.5', r / raw <= 1.5) },
        { name: `÷ socket.io, ${level} clients`, value: r / sio, ...at(r / sio, '≤ 1', r / sio <= 1) }
      )
    }
    for (const transport of ['sse', 'poll']) {
      const side = rows.find((r) => r.transport === transport)
      if (side) figures.push({ name: `${transport} p50 ms, ${side.level} clients`, value: num(side.p50) })
    }
    return { figures, problems }
  },
  storm(d) {
    const deflate = num(d?.fresh?.deflate?.wireBytes)
    return {
      figures: [
        {
          name: 'resumed, snapshot p99 ms',
          value: num(d?.snapshot?.p99),
          ...at(d?.snapshot?.p99, '≤ 2000', d?.snapshot?.p99 <= 2000),
        },
        { name: 'current (every storm event) p99 ms', value: num(d?.current?.p99) },
        {
          name: 'fresh snapshot KB (permessage-deflate)',
          value: deflate / 1024,
          ...at(deflate, '≤ 30', deflate <= 30 * 1024),
        },
      ],
      problems: (d?.errors ?? []).slice(0, 3),
    }
  },
  ingest(d) {
    const rows: any[] = d?.rows ?? []
    const rad = rows.find((r) => String(r.name).startsWith('Radiator'))
    return {
      figures: rad
        ? [
            { name: 'deliveries/s', value: num(rad.rps) },
            { name: '÷ bare route', value: num(rad.ratio), ...at(rad.ratio, '≥ 0.8', rad.ratio >= 0.8) },
            { name: 'server CPU µs per delivery', value: num(rad.cpuUsPerRequest) },
          ]
        : [],
      problems: rows.flatMap((r) => r.mismatches ?? []).slice(0, 3),
    }
  },
  collect(_, text) {
    const pv = grab(text, /^Radiator \/api\/collect: page view[^\n]*?\s+\d+\s+([\d.]+)×/m)
    const flush = grab(text, /^Radiator \/api\/collect: 3 vitals[^\n]*?\s+\d+\s+([\d.]+)×/m)
    return {
      figures: [
        { name: 'best durable beacons/s', value: grab(text, /best durable beacons\/s: ([\d,]+)/) },
        { name: 'page view ÷ bare Hono', value: pv, ...at(pv, '≥ 0.8', pv >= 0.8) },
        { name: 'vitals flush ÷ bare Hono', value: flush },
      ],
      problems: /MISMATCH/.test(text) ? ['row count mismatch (see its table)'] : [],
    }
  },
  memory(d) {
    const results: any[] = d?.results ?? []
    return {
      figures: results.map((r) => ({
        name: `RSS KB per idle ${r.transport} client`,
        value: num(r.perClientKb),
        ...at(r.perClientKb, '≤ 30', r.perClientKb <= 30),
      })),
      problems: results.filter((r) => !r.ok).map((r) => `${r.transport}: a client has no snapshot`),
    }
  },
  pageweight(d) {
    const med = (xs: any[] | undefined, k: string) => {
      const v = (xs ?? []).map((x) => num(x[k])).sort((a, b) => a - b)
      return v.length ? v[(v.length - 1) >> 1]! : NaN
    }
    return {
      figures: [
        { name: 'dashboard JS + CSS served KB', value: (num(d?.js?.served) + num(d?.css?.served)) / 1024 },
        { name: '/beacon.js gzip KB', value: num(d?.beacon?.gzip) / 1024 },
        { name: 'first painted board ms, cold', value: med(d?.cold, 'paintedMs') },
        { name: 'first painted board ms, warm', value: med(d?.warm, 'paintedMs') },
      ],
      problems: d?.problems ?? [],
    }
  },
  queries(d) {
    const rows: any[] = d?.rows ?? []
    const worst = (pick: (r: any) => boolean) =>
      Math.max(...rows.filter((r) => r.connections === 1 && pick(r)).map((r) => num(r.result?.p99)))
    const summary = worst((r) => String(r.endpoint).startsWith('summary'))
    const board = worst((r) => String(r.endpoint).startsWith('board'))
    const samples = num(d?.seeded?.samples)
    return {
      figures: [
        {
          name: `worst summary p99 ms, alone (${(samples / 1e6).toFixed(1)} M samples)`,
          value: summary,
          ...at(summary, '< 100', summary < 100),
        },
        {
          name: `worst board p99 ms, alone (${num(d?.seeded?.builds).toLocaleString('en')} builds)`,
          value: board,
          ...at(board, '< 100', board < 100),
        },
        {
          name: `seed + rollup s${d?.seeded?.cached ? ' (copied from the cache this run)' : ''}`,
          value: num(d?.seeded?.seconds) + num(d?.rollup?.seconds),
        },
      ],
      problems: rows
        .filter((r) => r.check)
        .map((r) => `${r.endpoint}: ${r.check}`)
        .slice(0, 3),
    }
  },
  endurance(d) {
    const s = d?.summary
    return {
      figures: [
        { name: 'minutes', value: num(s?.durationS) / 60 },
        { name: 'beacons answered 202 per s', value: num(s?.beacons?.rate) },
        { name: 'RSS MB/min, second half', value: num(s?.rss?.slopeSecondHalfMbPerMin) },
        { name: 'event-loop delay p99 ms, median interval', value: num(s?.lag?.p99MedianMs) },
        { name: 'RSS MB at the end', value: num(s?.rss?.endMb) },
      ],
      problems: s?.problems ?? [],
    }
  },
  writer(_, text) {
    return {
      figures: [
        { name: 'group commit ÷ no write', value: grab(text, /^group commit[^\n]*?\s+\d+\s+([\d.]+)×/m) },
        {
          name: 'one transaction per request ÷ no write',
          value: grab(text, /^one durable transaction[^\n]*?\s+\d+\s+([\d.]+)×/m),
        },
      ],
      problems: /MISMATCH/.test(text) ? ['row count mismatch'] : [],
    }
  },
  cluster(d) {
    const figures: Figure[] = []
    for (const key of ['pg1', 'pg3']) {
      const who = key === 'pg1' ? '1 PG instance' : '3 PG instances'
      const ing = (d?.ingest ?? []).find((r: any) => r.key === key)
      if (ing)
        figures.push(
          { name: `deliveries stored/s ÷ SQLite, ${who}`, value: num(ing.ratio) },
          { name: `CPU per delivery ÷ SQLite, ${who}`, value: num(ing.cpuRatio) }
        )
      for (const r of (d?.timeToTruth ?? []).filter((r: any) => r.key === key)) {
        const base = (d.timeToTruth as any[]).find((b) => b.key === 'sqlite' && b.level === r.level)
        figures.push({
          name: `round p99 ÷ SQLite, ${r.level} clients, ${who}`,
          value: num(r.roundP99) / num(base?.roundP99),
        })
      }
    }
    return { figures, problems: (d?.problems ?? []).slice(0, 3) }
  },
  // The older in-process summary timing: its time only (queries has the figures).
  summary: () => ({ figures: [], problems: [] }),
}

/** The report of a part that ran (or threw: `error`), from what it printed and wrote since `since`. */
export function report(
  part: string,
  since: number,
  seconds: number,
  text: string,
  error?: unknown,
  dir = JSON_DIR
): PartReport {
  const skipped = !error && /^\s*\S+: skipped\b/.test(text)
  if (skipped) return { part, status: 'skipped', seconds, check: text.trim(), figures: [], json: null }
  const j = partJson(dir, part, since)
  let figures: Figure[] = []
  let problems: string[] = []
  try {
    ;({ figures, problems } = EXTRACT[part]?.(j?.data, text) ?? { figures: [], problems: [] })
  } catch (e) {
    problems = [`its figures could not be read: ${e}`]
  }
  if (error) problems = [String(error instanceof Error ? error.message.split('\n').at(-1) : error), ...problems]
  return {
    part,
    status: error || problems.length ? 'failed' : 'ok',
    seconds,
    check: problems.length ? problems.join('; ') : 'passed',
    figures: figures.filter((f) => Number.isFinite(f.value)),
    json: j?.file ?? null,
  }
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en') : ms(v))

/** One markdown table: a row per headline figure, each part's time and check on its first row. */
export function summaryTable(reports: PartReport[]): string {
  const rows: (string | number)[][] = []
  for (const r of reports) {
    const figs = r.figures.length ? r.figures : [null]
    for (const [i, f] of figs.entries())
      rows.push([
        i === 0 ? r.part : '',
        i === 0 ? r.seconds.toFixed(0) : '',
        f ? f.name : '-',
        f ? fmt(f.value) : '-',
        f?.target ? `${f.target}: ${f.met === undefined ? '-' : f.met ? 'met' : 'NOT MET'}` : '',
        i === 0 ? (r.status === 'ok' ? 'passed' : `${r.status.toUpperCase()}: ${r.check}`) : '',
      ])
  }
  return mdTable(['part', 's', 'figure', 'value', 'target', 'check'], rows)
}
