/**
 * `npm run bench:writer`: what answering only after COMMIT costs. The same POST endpoint, in a
 * child process: answering without writing (baseline), with the group-commit writer (one transaction
 * per event-loop turn; synchronous=NORMAL with the WAL synced by the writer after COMMIT, off the event
 * loop, as server/db/client.ts explains), and with one transaction per request. Ratios against the
 * baseline measured in the same run; the row count is checked after each run.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { load, table, type LoadResult } from './load.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const body = JSON.stringify({ site: 'shop.example', events: [{ type: 'pageview', path: '/checkout' }] })

async function run(mode: string): Promise<LoadResult & { rows: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-'))
  const child = fork(fileURLToPath(new URL('./writer-server.ts', import.meta.url)), [mode, dir], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  })
  const port = await new Promise<number>((r) => child.on('message', (m: { port: number }) => r(m.port)))
  const url = `http://127.0.0.1:${port}`
  await load({ url: `${url}/hit`, body, seconds: 1 }) // warm-up
  const before = (await (await fetch(`${url}/count`)).json()).n as number
  const r = await load({ url: `${url}/hit`, body, seconds: SECONDS })
  const rows = ((await (await fetch(`${url}/count`)).json()).n as number) - before
  child.send('stop')
  await new Promise((r) => child.on('exit', r))
  rmSync(dir, { recursive: true, force: true })
  return { ...r, rows }
}

export async function benchWriter(): Promise<string> {
  const none = await run('none')
  const group = await run('group')
  const each = await run('each')
  const out = table(`POST answered after the write (${SECONDS}s each, 32 keep-alive connections)`, [
    ['no write (baseline)', none],
    ['group commit, answered after the WAL sync', group],
    ['one durable transaction per request', each],
  ])
  const check = [group, each].every((r) => r.rows === r.statuses[202])
    ? 'row counts match the 202s'
    : 'ROW COUNT MISMATCH'
  return `${out}\n${check}: group ${group.rows} rows, per-request ${each.rows} rows`
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await benchWriter())
}
