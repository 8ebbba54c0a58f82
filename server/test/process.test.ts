import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
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

  it('creates DATA_DIR, serves /healthz, and on SIGTERM closes live clients with 1001 and exits 0', async () => {
    const dir = join(tempDir(), 'nested', 'data')
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, LOG_LEVEL: 'warn' })
    try {
      // The whole banner, not just its Dashboard line: the Webhooks line is checked next.
      const url = await until(() => p.out().includes('Database:') && p.out().match(/Dashboard:\s+(http:\/\/\S+?)\/\n/)?.[1], 'the printed URL', 60_000)
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
