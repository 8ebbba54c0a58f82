/**
 * `npm run bench -- pageweight`: what the dashboard costs a screen. The web build is made first
 * (web/build.ts, what `npm run build` runs for the dashboard, into web/dist); then:
 *
 * - the initial JS and CSS: the built index.html's entry scripts, every chunk they import
 *   statically (as web/size.test.ts counts them), its modulepreloads and stylesheets, each
 *   compressed here with gzip level 9 and brotli quality 11, and what Radiator actually sends for
 *   them to a browser asking `Accept-Encoding: gzip, deflate, br`;
 * - /beacon.js the same way (the snippet every page of a measured site loads);
 * - time to the first painted board in headless Chromium (playwright-core, /usr/bin/chromium): a
 *   real Radiator in its own process with BENCH_PAGEWEIGHT_PIPELINES (12) pipelines posted through
 *   the generic hook, the board opened as the browser tests open it (open to viewers,
 *   PUBLIC_DASHBOARD), timed from navigation start to the first tile in the DOM and to the next
 *   frame after it (painted); first contentful paint beside it. BENCH_PAGEWEIGHT_RUNS (5) cold
 *   loads, each in a fresh browser context (nothing cached), then as many reloads in one context
 *   (the hashed assets cached); medians.
 *
 * Checked: the build succeeded and index.html names an entry script; /beacon.js and every
 * initial asset answer 200 with the bytes on disk; every load shows one tile per pipeline posted,
 * without a page error.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants, gunzipSync, brotliDecompressSync, gzipSync } from 'node:zlib'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { cpuPressure } from './endurance.ts'
import { GENERIC_TOKEN, machine, mdTable, median, ms, ROOT, startRadiator, writeJson, type Proc } from './procs.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const RUNS = Number(process.env.BENCH_PAGEWEIGHT_RUNS ?? 5)
const PIPELINES = Number(process.env.BENCH_PAGEWEIGHT_PIPELINES ?? 12)
const WEB_DIST = join(ROOT, 'web', 'dist')

/** Static imports of an ES module chunk (the same rule as web/size.test.ts). */
function staticImports(code: string): string[] {
  const out = new Set<string>()
  const re = /(?:^|[;}\s])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+\.js)["']/g
  for (const m of code.matchAll(re)) out.add(m[1]!)
  return [...out]
}

/** The files index.html makes the browser fetch up front: scripts (with their static imports) and styles. */
function initialAssets(html: string): { js: string[]; css: string[] } {
  const js = new Set<string>()
  const visit = (file: string) => {
    if (js.has(file)) return
    js.add(file)
    for (const spec of staticImports(readFileSync(join(WEB_DIST, file), 'utf8'))) visit(join(file, '..', spec))
  }
  for (const m of html.matchAll(/<script\b[^>]*\bsrc="\/([^"]+)"/g)) visit(m[1]!)
  for (const m of html.matchAll(/<link\b[^>]*rel="modulepreload"[^>]*href="\/([^"]+)"/g)) visit(m[1]!)
  const css = [...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*href="\/([^"]+)"/g)].map((m) => m[1]!)
  return { js: [...js], css }
}

interface Weight {
  files: number
  raw: number
  gzip: number
  brotli: number
  /** Bytes Radiator sent for them to a browser accepting gzip and br, and the encodings it used. */
  served: number
  encodings: string[]
}

/** GET with a browser's Accept-Encoding; the bytes as they came over the wire. */
function getRaw(url: string): Promise<{ status: number; encoding: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': 'gzip, deflate, br' } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            encoding: String(res.headers['content-encoding'] ?? 'identity'),
            body: Buffer.concat(chunks),
          })
        )
      })
      .on('error', reject)
  })
}

async function weigh(files: string[], base: string, problems: string[]): Promise<Weight> {
  const w: Weight = { files: files.length, raw: 0, gzip: 0, brotli: 0, served: 0, encodings: [] }
  for (const f of files) {
    const buf = readFileSync(join(WEB_DIST, f))
    w.raw += buf.length
    w.gzip += gzipSync(buf, { level: 9 }).length
    w.brotli += brotliCompressSync(buf, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
    }).length
    const r = await getRaw(`${base}/${f}`)
    w.served += r.body.length
    if (!w.encodings.includes(r.encoding)) w.encodings.push(r.encoding)
    const decoded =
      r.encoding === 'gzip' ? gunzipSync(r.body) : r.encoding === 'br' ? brotliDecompressSync(r.body) : r.body
    if (r.status !== 200 || !decoded.equals(buf))
      problems.push(`/${f} answered ${r.status} with other bytes than the build's`)
  }
  return w
}

/** A history for `n` pipelines through the generic hook: mostly passing, some broken, some running. */
async function seedBoard(url: string, n: number): Promise<void> {
  const post = async (body: unknown) => {
    const res = await fetch(`${url}/hooks/generic`, {
      method: 'POST',
      headers: { authorization: `Bearer ${GENERIC_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (res.status !== 200) throw new Error(`POST /hooks/generic answered ${res.status}: ${await res.text()}`)
  }
  const ago = (min: number) => new Date(Date.now() - min * 60_000).toISOString()
  for (let i = 0; i < n; i++) {
    const project = `acme/${['web', 'api', 'mobile', 'infra', 'docs', 'billing'][i % 6]}${i >= 6 ? `-${Math.floor(i / 6)}` : ''}`
    const common = { project, pipeline: 'CI', branch: i % 4 === 3 ? 'release/2026.1' : 'main', actor: 'octocat' }
    for (let k = 0; k < 3; k++) {
      const status = i % 5 === 1 && k === 2 ? 'failure' : 'success'
      await post({
        ...common,
        id: `pw-${i}-${k}`,
        number: 100 + k,
        status,
        commit: {
          sha: `${(i * 7919 + k).toString(16).padStart(7, '0')}`,
          subject: `Change ${k} to ${project}`,
          author: 'ada',
        },
        url: `https://ci.example.com/${project}/${100 + k}`,
        startedAt: ago(60 - k * 15),
        finishedAt: ago(55 - k * 15),
      })
    }
    if (i % 5 === 3) await post({ ...common, id: `pw-${i}-3`, number: 103, status: 'running', startedAt: ago(2) })
  }
}

/** Records, in the page, when the first tile enters the DOM and the frame after that. */
const TIMING_SCRIPT = `
(() => {
  const t = (globalThis.__pw = { tile: null, painted: null })
  const seen = () => {
    if (t.tile !== null || !document.querySelector('[data-testid=tile]')) return false
    t.tile = performance.now()
    requestAnimationFrame(() => setTimeout(() => (t.painted = performance.now()), 0))
    return true
  }
  new MutationObserver((_, obs) => seen() && obs.disconnect()).observe(document, { childList: true, subtree: true })
})()
`

interface Load {
  tileMs: number
  paintedMs: number
  fcpMs: number
  tiles: number
  /** Bytes the page fetched (transferSize of every resource, the document included). */
  transferred: number
}

async function load(page: Page, url: string, reload: boolean): Promise<Load> {
  if (reload) await page.reload({ waitUntil: 'commit' })
  else await page.goto(url, { waitUntil: 'commit' })
  await page.locator('[data-testid=tile]').first().waitFor({ state: 'visible', timeout: 30_000 })
  await page.waitForFunction(
    () => (globalThis as unknown as { __pw: { painted: number | null } }).__pw.painted !== null,
    null,
    {
      timeout: 30_000,
    }
  )
  // Let the snapshot's every tile render before counting them.
  await page.waitForTimeout(300)
  return page.evaluate(() => {
    const t = (globalThis as unknown as { __pw: { tile: number; painted: number } }).__pw
    const fcp = performance.getEntriesByName('first-contentful-paint')[0]
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
    const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[]
    return {
      tileMs: t.tile,
      paintedMs: t.painted,
      fcpMs: fcp ? fcp.startTime : Number.NaN,
      tiles: document.querySelectorAll('[data-testid=tile]').length,
      transferred: (nav?.transferSize ?? 0) + resources.reduce((a, r) => a + r.transferSize, 0),
    }
  })
}

export async function benchPageweight(): Promise<string> {
  if (!existsSync(CHROMIUM)) return `\npageweight: skipped, ${CHROMIUM} is not installed (apt-get install chromium)`
  const before = { ...machine(), cpuPressure: cpuPressure() }
  const problems: string[] = []

  // The build, as `npm run build` makes the dashboard's part (web/build.ts in its own process).
  const t0 = performance.now()
  const built = spawnSync(process.execPath, ['--import', 'tsx', 'web/build.ts'], { cwd: ROOT, encoding: 'utf8' })
  const buildS = (performance.now() - t0) / 1000
  if (built.status !== 0) throw new Error(`the web build failed (exit ${built.status}):\n${built.stderr}`)
  const html = readFileSync(join(WEB_DIST, 'index.html'), 'utf8')
  const assets = initialAssets(html)
  if (!assets.js.length) throw new Error('web/dist/index.html names no entry script')

  const dir = mkdtempSync(join(tmpdir(), 'radiator-bench-pageweight-'))
  let proc: Proc | null = null
  let browser: Browser | null = null
  try {
    proc = await startRadiator(dir)
    const url = proc.url
    const js = await weigh(assets.js, url, problems)
    const css = await weigh(assets.css, url, problems)
    const beacon = await weigh(['beacon.js'], url, problems)
    await seedBoard(url, PIPELINES)

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    const errors: string[] = []
    const open = async (ctx: BrowserContext) => {
      await ctx.addInitScript(TIMING_SCRIPT)
      const page = await ctx.newPage()
      page.on('pageerror', (e) => errors.push(e.message))
      return page
    }
    const cold: Load[] = []
    for (let i = 0; i < RUNS; i++) {
      const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } })
      try {
        cold.push(await load(await open(ctx), `${url}/`, false))
      } finally {
        await ctx.close()
      }
    }
    const warm: Load[] = []
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } })
    try {
      const page = await open(ctx)
      await load(page, `${url}/`, false)
      for (let i = 0; i < RUNS; i++) warm.push(await load(page, `${url}/`, true))
    } finally {
      await ctx.close()
    }
    for (const [i, l] of [...cold, ...warm].entries())
      if (l.tiles !== PIPELINES) problems.push(`load ${i} showed ${l.tiles} tiles, ${PIPELINES} pipelines were posted`)
    if (errors.length) problems.push(`page errors: ${errors.slice(0, 3).join('; ')}`)

    await browser.close()
    browser = null
    await proc.stop()
    proc = null
    const after = { ...machine(), cpuPressure: cpuPressure() }

    const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`
    const weightRow = (name: string, w: Weight) => [
      name,
      w.files,
      kb(w.raw),
      kb(w.gzip),
      kb(w.brotli),
      `${kb(w.served)} (${w.encodings.join(', ')})`,
    ]
    const med = (ls: Load[], k: keyof Load) => median(ls.map((l) => l[k]))
    const range = (ls: Load[], k: keyof Load) =>
      `${ms(med(ls, k))} (${ms(Math.min(...ls.map((l) => l[k])))}–${ms(Math.max(...ls.map((l) => l[k])))})`
    const json = writeJson('pageweight', {
      machine: { before, after },
      buildSeconds: buildS,
      assets,
      js,
      css,
      beacon,
      pipelines: PIPELINES,
      cold,
      warm,
      problems,
    })
    const lines = [
      `\nPage weight: the dashboard's initial JS and CSS (index.html's scripts, their static imports and modulepreloads, its stylesheets) and /beacon.js from a fresh build (${buildS.toFixed(1)} s); gzip level 9 and brotli quality 11 computed here; "served" is what Radiator sent for them to Accept-Encoding: gzip, deflate, br (${before.cores} cores, load ${before.load1} before, ${after.load1} after; CPU pressure ${before.cpuPressure} % before, ${after.cpuPressure} % after)`,
      mdTable(
        ['asset', 'files', 'raw', 'gzip -9', 'brotli 11', 'served'],
        [
          weightRow('dashboard initial JS', js),
          weightRow('dashboard CSS', css),
          weightRow('dashboard JS + CSS', {
            files: js.files + css.files,
            raw: js.raw + css.raw,
            gzip: js.gzip + css.gzip,
            brotli: js.brotli + css.brotli,
            served: js.served + css.served,
            encodings: [...new Set([...js.encodings, ...css.encodings])],
          }),
          weightRow('/beacon.js', beacon),
        ]
      ),
      `Time to the first painted board, headless Chromium 1366×768 on loopback, ${PIPELINES} pipelines; median (min–max) of ${RUNS} loads, ms from navigation start`,
      mdTable(
        [
          'load',
          'first tile in DOM',
          'first tile painted (next frame)',
          'first contentful paint',
          'bytes fetched',
          'check',
        ],
        [
          ['cold (fresh context)', cold],
          ['warm (reload, assets cached)', warm],
        ].map(([name, ls]) => [
          name as string,
          range(ls as Load[], 'tileMs'),
          range(ls as Load[], 'paintedMs'),
          range(ls as Load[], 'fcpMs'),
          kb(med(ls as Load[], 'transferred')),
          problems.length ? `FAILED: ${problems.join('; ')}` : `every load ${PIPELINES} tiles, no page error`,
        ])
      ),
      `JSON: ${json}`,
    ]
    if (problems.length) throw new Error(`${lines.join('\n')}\npageweight: ${problems.join('; ')}`)
    return lines.join('\n')
  } finally {
    await browser?.close()
    await proc?.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(await benchPageweight())
