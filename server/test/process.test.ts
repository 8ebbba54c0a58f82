import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ROOT } from '../http/web-build.ts'
import { SseTestClient, WsTestClient, tempDir, until } from './harness.ts'

/** Runs `npm start`'s command for real: the process, its signals, its exit code. */
function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    // Open to viewers: this test is about the process, not access control (server/access).
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PUBLIC_DASHBOARD: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return { child, exited, out: () => stdout, err: () => stderr }
}

describe('the radiator process', () => {
  it('stops with one line naming the variable when a config value is bad, exit code 1', async () => {
    const p = startProcess({ PORT: 'eighty' })
    expect(await p.exited).toBe(1)
    const lines = p.err().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toBe('radiator: Invalid PORT="eighty": expected an integer 0–65535')
    expect(p.err()).not.toMatch(/at .*\.ts/)
  })

  /** Exit code 1 and exactly one line on stderr that names the variable and says what to do. */
  async function expectOneLine(env: Record<string, string>, names: RegExp) {
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env })
    expect(await p.exited).toBe(1)
    const lines = p.err().trim().split('\n')
    expect(lines, p.err()).toHaveLength(1)
    expect(lines[0]).toMatch(/^radiator: /)
    expect(lines[0]).toMatch(names)
    expect(lines[0]).toMatch(/; (set|stop|move|free|check|use) /)
    expect(p.err()).not.toMatch(/\n\s+at /)
    return lines[0]!
  }

  it('stops with one line naming DATA_DIR when DATA_DIR is a file', async () => {
    const file = join(tempDir(), 'not-a-dir')
    writeFileSync(file, 'x')
    expect(await expectOneLine({ DATA_DIR: file }, /^radiator: DATA_DIR=\S+ is not a directory/)).toContain(file)
    expect(await expectOneLine({ DATA_DIR: join(file, 'below') }, /DATA_DIR=\S+ is not a directory/)).toContain(file)
  })

  // Permission bits don't stop root (the tests run as root here); sysfs and procfs refuse
  // everyone: mkdir under /sys is EPERM, under /proc ENOENT (where Node's recursive mkdir used to
  // loop forever), and no file can be created in /sys/kernel itself.
  it.skipIf(!existsSync('/sys/kernel') || !existsSync('/proc/self'))(
    'stops with one line naming DATA_DIR when DATA_DIR is where nothing can be written',
    async () => {
      await expectOneLine(
        { DATA_DIR: '/sys/kernel/radiator-data' },
        /^radiator: DATA_DIR=\/sys\/kernel\/radiator-data can't be created \(E/
      )
      await expectOneLine(
        { DATA_DIR: '/proc/radiator-data/db' },
        /^radiator: DATA_DIR=\/proc\/radiator-data\/db can't be created \(ENOENT/
      )
      await expectOneLine(
        { DATA_DIR: '/sys/kernel' },
        /^radiator: DATA_DIR=\/sys\/kernel: \S+radiator.db can't be opened for writing/
      )
    }
  )

  it('stops with one line naming DATA_DIR when radiator.db is not a database', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'radiator.db'), randomBytes(8192))
    try {
      await expectOneLine({ DATA_DIR: dir }, /^radiator: DATA_DIR=\S+: \S+radiator\.db is not a usable SQLite database/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('stops with one line naming PORT when the port is already in use', async () => {
    const taken: Server = createServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r))
    const port = (taken.address() as { port: number }).port
    const dir = tempDir()
    mkdirSync(dir, { recursive: true })
    try {
      const line = await expectOneLine({ DATA_DIR: dir, PORT: String(port) }, /^radiator: PORT=\d+ is already in use/)
      expect(line).toContain(String(port))
    } finally {
      taken.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('creates DATA_DIR, serves /healthz, and on SIGTERM closes live clients with 1001 and exits 0', async () => {
    const dir = join(tempDir(), 'nested', 'data')
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, LOG_LEVEL: 'warn' })
    try {
      // The whole banner, not just its Dashboard line: the Webhooks line is checked next.
      const url = await until(
        () => p.out().includes('Database:') && p.out().match(/Dashboard:\s+(http:\/\/\S+?)\/\n/)?.[1],
        'the printed URL',
        60_000
      )
      expect(p.out()).toMatch(/Webhooks:\s+http:\/\/\S+\/hooks\//)
      expect(existsSync(join(dir, 'radiator.db'))).toBe(true)
      const health = await fetch(`${url}/healthz`)
      expect(health.status).toBe(200)
      const body = await health.json()
      expect(body).toMatchObject({ status: 'ok', db: 'ok' })
      expect(typeof body.version).toBe('string')
      expect(typeof body.uptimeS).toBe('number')

      const ws = new WsTestClient(`${url.replace('http', 'ws')}/live`)
      const sse = new SseTestClient(`${url}/live/sse`)
      await until(() => ws.events().length && sse.events().length, 'snapshots')
      const t0 = Date.now()
      p.child.kill('SIGTERM')
      expect(await p.exited).toBe(0)
      expect(Date.now() - t0).toBeLessThan(5000)
      await until(() => ws.closeCode, 'close code')
      expect(ws.closeCode).toBe(1001)
      await sse.done
    } finally {
      p.child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
