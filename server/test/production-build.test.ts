import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { ROOT } from '../http/web-build.ts'
import { loadFixture } from './fixtures.ts'
import { tempDir, until, WsTestClient } from './harness.ts'
import { sign as signGithub } from './sign/github.ts'
import { SCHEDULED } from '../db/backup.ts'

const DIST = join(ROOT, 'dist', 'server')
const SECRET = 'production-build-secret'

/** The compiled server as `npm start` and the Docker image run it: plain node, no loader. */
function startCompiled(env: Record<string, string>) {
  const child = spawn(process.execPath, [join(DIST, 'main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      PUBLIC_DASHBOARD: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return { child, exited, out: () => out, err: () => err }
}

describe('the production build', () => {
  const dirs: string[] = []
  beforeAll(() => {
    const r = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
  }, 120_000)
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  it('is plain JavaScript that imports no TypeScript and no tsx', () => {
    const files = readdirSync(DIST).filter((f) => f.endsWith('.js'))
    expect(files).toEqual(expect.arrayContaining(['main.js', 'backup.js', 'token.js', 'reprocess.js']))
    for (const f of files) {
      const js = readFileSync(join(DIST, f), 'utf8')
      // The one .ts left is the dashboard build (vite), imported only when web/dist is stale.
      const tsImports = [...js.matchAll(/(?:from|import\()\s*["']([^"']+\.ts)["']/g)].map((m) => m[1])
      expect(
        tsImports.filter((p) => p !== '../../web/build.ts'),
        f
      ).toEqual([])
      expect(js, f).not.toMatch(/["']tsx(\/[^"']*)?["']/)
    }
  })

  it('--if-stale compiles again when the sources are newer than the bundle, and only then', () => {
    const ifStale = () =>
      spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, encoding: 'utf8' })
    // A bundle older than every source, as after a pull.
    utimesSync(join(DIST, '.built'), 0, 0)
    const stale = ifStale()
    expect(stale.status, stale.stderr).toBe(0)
    expect(stale.stderr).toMatch(/compiling the server/)
    expect(statSync(join(DIST, '.built')).mtimeMs).toBeGreaterThan(0)
    const fresh = ifStale()
    expect(fresh.status).toBe(0)
    expect(fresh.stderr).not.toMatch(/compiling the server/)
  })

  it('imports only production dependencies, so it runs from `npm ci --omit=dev`', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    const imported = new Set<string>()
    for (const f of readdirSync(DIST).filter((f) => f.endsWith('.js'))) {
      const js = readFileSync(join(DIST, f), 'utf8')
      for (const [, spec] of js.matchAll(/(?:\bfrom|\bimport\(?)\s*["']([^"'./][^"']*)["']/g)) {
        if (spec!.startsWith('node:')) continue
        imported.add(spec!.startsWith('@') ? spec!.split('/').slice(0, 2).join('/') : spec!.split('/')[0]!)
      }
    }
    expect(imported).toContain('better-sqlite3')
    expect([...imported].filter((p) => !(p in pkg.dependencies))).toEqual([])
  })

  it("npm start runs the compiled server as npm's own child: SIGTERM to npm stops it, nothing is left listening", async () => {
    const dataDir = tempDir()
    dirs.push(dataDir)
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so the finally below can end whatever it started, orphans included.
      detached: true,
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', () => {})
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    try {
      const url = await until(() => out.match(/Dashboard:\s+(http:\/\/\S+?)\/\n/)?.[1], 'the printed URL', 60_000)
      expect(out).toMatch(/node dist\/server\/main\.js/)
      expect((await fetch(`${url}/healthz`)).status).toBe(200)
      child.kill('SIGTERM')
      await exited
      // Had a shell stayed between npm and node, node would be orphaned and still answer.
      let answered = true
      for (const end = Date.now() + 5000; answered && Date.now() < end; await new Promise((r) => setTimeout(r, 50)))
        answered = await fetch(`${url}/healthz`).then(
          () => true,
          () => false
        )
      expect(answered, 'a server still answering after npm stopped').toBe(false)
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
    }
  })

  it('serves /healthz, stores a signed webhook, serves the dashboard and the beacon, backs up on schedule, and exits 0 on SIGTERM', async () => {
    const dataDir = tempDir()
    const backupDir = join(tempDir('radiator-backups-'), 'nested')
    dirs.push(dataDir, join(backupDir, '..'))
    const p = startCompiled({
      DATA_DIR: dataDir,
      GITHUB_WEBHOOK_SECRET: SECRET,
      BACKUP_DIR: backupDir,
      BACKUP_EVERY: '1s',
      BACKUP_KEEP: '2',
    })
    try {
      const url = await until(
        () => p.out().match(/Dashboard:\s+(http:\/\/\S+?)\/\n/)?.[1],
        `the printed URL (stderr: ${p.err()})`,
        30_000
      )
      const health = await fetch(`${url}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.json()).toMatchObject({ status: 'ok', db: 'ok' })

      const live = new WsTestClient(`${url.replace('http', 'ws')}/live`)
      await live.opened
      const hook = loadFixture('github', 'workflow_run-completed-success')
      const res = await fetch(`${url}/hooks/github`, {
        method: 'POST',
        headers: { ...hook.headers, 'X-GitHub-Delivery': 'production-build-1', ...signGithub(hook.raw, SECRET) },
        body: new Uint8Array(hook.raw),
      })
      const stored = (await res.json()) as { stored: boolean; build: string }
      expect(res.status).toBe(200)
      expect(stored.stored).toBe(true)
      const builds = (await (await fetch(`${url}/api/builds`)).json()) as { builds: { id: string }[] }
      expect(builds.builds.map((b) => b.id)).toContain(stored.build)
      await until(() => live.events().some((m) => m.data?.build?.id === stored.build), 'the build on the live stream')
      live.close()

      const page = await fetch(`${url}/`)
      expect(page.status).toBe(200)
      expect(await page.text()).toMatch(/<script[^>]+src="\/assets\/[^"]+\.js"/)
      const beacon = await fetch(`${url}/beacon.js`)
      expect(beacon.status).toBe(200)
      expect(beacon.headers.get('content-type')).toMatch(/javascript/)

      // BACKUP_* from main.ts: a backup that holds the build, at most BACKUP_KEEP of them.
      const withBuild = await until(
        () => {
          if (!existsSync(backupDir)) return undefined
          const ours = readdirSync(backupDir)
            .filter((f) => SCHEDULED.test(f))
            .sort()
          expect(ours.length).toBeLessThanOrEqual(2)
          return ours.find((f) => {
            const db = new Database(join(backupDir, f), { readonly: true })
            try {
              return db.prepare('SELECT 1 FROM builds WHERE id = ?').get(stored.build)
            } finally {
              db.close()
            }
          })
        },
        'a scheduled backup with the build',
        15_000
      )
      expect(withBuild).toMatch(SCHEDULED)

      // The compiled backup CLI, against the compiled server while it runs.
      const copy = join(backupDir, 'by-hand.db')
      const cli = spawnSync(process.execPath, [join(DIST, 'backup.js'), copy], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, DATA_DIR: dataDir },
        encoding: 'utf8',
      })
      expect(cli.status, cli.stderr).toBe(0)
      expect(cli.stdout).toMatch(/^backed up .* \(1 builds, /)

      p.child.kill('SIGTERM')
      expect(await p.exited).toBe(0)
      expect(p.err()).not.toMatch(/backup failed|Error/)
    } finally {
      p.child.kill('SIGKILL')
    }
  })
})
