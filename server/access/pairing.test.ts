/**
 * Pairing and steering screens through the real server's API: a code, the screen's held wait
 * answered with its cookie on approval, single use, expiry, the screen's persisted view, control
 * messages over WebSocket, SSE and long polling, and revocation.
 */
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import {
  perTest,
  SseTestClient,
  type startTestServer,
  until,
  type LiveMessage,
  type TestServer,
} from '../test/harness.ts'
import { PAIRINGS_PER_MINUTE } from './screen-routes.ts'

const t = perTest()

const ADMIN = 'admin-secret-for-pairing'
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
const closed = (env: Parameters<typeof startTestServer>[0] = {}) =>
  t.server({ PUBLIC_DASHBOARD: 'false', ADMIN_TOKEN: ADMIN, LIVE_POLL_TIMEOUT_MS: '1000', ...env })

/** A screen pairs: code, held wait, approval by the admin; returns the screen's cookie and id. */
async function pair(s: TestServer, view = '/tv?project=acme/shop', name = '3rd floor lobby') {
  const start = await fetch(`${s.url}/api/pair`, { method: 'POST' })
  expect(start.status).toBe(201)
  const { code, device, approveUrl } = await start.json()
  expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/)
  expect(approveUrl).toBe(`${s.url}/pair?code=${code}`)
  const waiting = fetch(`${s.url}/api/pair/wait?device=${device}`)
  const seen = await (await fetch(`${s.url}/api/pair/${code}`, { headers: admin })).json()
  expect(seen.code).toBe(code)
  const approved = await fetch(`${s.url}/api/pair/approve`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ code, name, view }),
  })
  expect(approved.status).toBe(201)
  const res = await waiting
  expect(await res.json()).toEqual({ status: 'approved', view, name })
  const cookie = res.headers.get('set-cookie')!
  expect(cookie).toMatch(/HttpOnly/)
  expect(cookie).toMatch(/Max-Age=34560000/) // 400 days, renewed while the screen is on
  return { cookie: cookie.split(';')[0]!, screen: (await approved.json()).screen as string, code }
}

describe('pairing', () => {
  it('signs a screen in by an approved code, once, and it learns its view', async () => {
    const s = await closed()
    const { cookie, code } = await pair(s)
    const me = await (await fetch(`${s.url}/api/me`, { headers: { cookie } })).json()
    expect(me).toMatchObject({ signedIn: true, role: 'viewer', kind: 'screen', subject: '3rd floor lobby' })
    expect(await (await fetch(`${s.url}/api/screen`, { headers: { cookie } })).json()).toMatchObject({
      screen: { name: '3rd floor lobby', view: '/tv?project=acme/shop' },
    })
    expect((await fetch(`${s.url}/api/builds`, { headers: { cookie } })).status).toBe(200)
    expect((await fetch(`${s.url}/api/admin/tokens`, { headers: { cookie } })).status).toBe(403)
    // Single use.
    const again = await fetch(`${s.url}/api/pair/approve`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ code, name: 'x' }),
    })
    expect(again.status).toBe(404)
  })

  it('refuses approval without an admin, views on other origins, bad codes, and too many codes per address', async () => {
    const s = await closed()
    const { code } = await (await fetch(`${s.url}/api/pair`, { method: 'POST' })).json()
    const anon = await fetch(`${s.url}/api/pair/approve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, name: 'x' }),
    })
    expect(anon.status).toBe(401)
    for (const view of ['https://evil.example/', '//evil.example/tv', 'javascript:alert(1)'])
      expect(
        (
          await fetch(`${s.url}/api/pair/approve`, {
            method: 'POST',
            headers: admin,
            body: JSON.stringify({ code, name: 'x', view }),
          })
        ).status
      ).toBe(400)
    expect(
      (
        await fetch(`${s.url}/api/pair/approve`, {
          method: 'POST',
          headers: admin,
          body: JSON.stringify({ code: 'AAAA-AAAA', name: 'x' }),
        })
      ).status
    ).toBe(404)
    expect((await fetch(`${s.url}/api/pair/wait?device=rpr_nope`)).status).toBe(400)
    let status = 0
    for (let i = 0; i < PAIRINGS_PER_MINUTE + 1; i++)
      status = (await fetch(`${s.url}/api/pair`, { method: 'POST' })).status
    expect(status).toBe(429)
    const qr = await fetch(`${s.url}/api/pair/qr.svg?code=${code}`)
    expect(qr.headers.get('content-type')).toBe('image/svg+xml')
    expect(await qr.text()).toMatch(/^<svg/)
  })
})

describe('steering screens', () => {
  it('reaches a screen over WebSocket, SSE and long polling, persists what it shows, and revokes it', async () => {
    const s = await closed()
    const ws = await pair(s, '/tv', 'lobby ws')
    const sse = await pair(s, '/tv', 'lobby sse')
    const poll = await pair(s, '/tv', 'lobby poll')
    const wsMsgs: LiveMessage[] = []
    const socket = new WebSocket(`${s.url.replace('http', 'ws')}/live`, { headers: { cookie: ws.cookie } })
    socket.on('message', (d) => wsMsgs.push(JSON.parse(String(d))))
    const closedWith = new Promise<number>((r) => socket.on('close', (code) => r(code)))
    t.cleanup(() => socket.close())
    const sseClient = new SseTestClient(`${s.url}/live/sse?client=9.9.9`, { cookie: sse.cookie })
    t.cleanup(() => sseClient.close())
    await until(() => wsMsgs.length && sseClient.messages.length, 'connected')

    const act = (screen: string, body: object) =>
      fetch(`${s.url}/api/admin/screens/${screen}`, { method: 'POST', headers: admin, body: JSON.stringify(body) })
    expect((await act(ws.screen, { action: 'identify' })).status).toBe(200)
    await until(
      () => wsMsgs.find((m) => m.type === 'control' && m.data.action === 'identify' && m.data.name === 'lobby ws'),
      'identify over ws'
    )
    await act(sse.screen, { action: 'show', view: '/sites' })
    await until(() => sseClient.messages.find((m) => m.type === 'control' && m.data.view === '/sites'), 'show over sse')
    expect(await (await fetch(`${s.url}/api/screen`, { headers: { cookie: sse.cookie } })).json()).toMatchObject({
      screen: { view: '/sites' },
    })
    // Control messages have no id: they never move a resume point.
    expect(sseClient.ids[sseClient.messages.findIndex((m) => m.type === 'control')]).toBeNull()

    // A poll-only screen between two polls still gets its action on the next poll.
    expect((await (await act(poll.screen, { action: 'reload' })).json()).reached).toBe(0)
    const res = await fetch(`${s.url}/live/poll`, { headers: { cookie: poll.cookie } })
    expect((await res.json()).events).toEqual([
      expect.objectContaining({ type: 'control', data: { action: 'reload' } }),
    ])

    const list = await (await fetch(`${s.url}/api/admin/screens`, { headers: admin })).json()
    const lobby = list.screens.find((x: { id: string }) => x.id === ws.screen)
    expect(lobby).toMatchObject({
      name: 'lobby ws',
      live: true,
      version: 'test',
      connections: [expect.objectContaining({ transport: 'ws' })],
    })
    // The version the page says it runs (it reloads when the server's changes).
    expect(list.screens.find((x: { id: string }) => x.id === sse.screen)).toMatchObject({ version: '9.9.9' })

    expect((await fetch(`${s.url}/api/admin/screens/${ws.screen}`, { method: 'DELETE', headers: admin })).status).toBe(
      200
    )
    expect(await closedWith).toBe(4401)
    expect((await fetch(`${s.url}/api/builds`, { headers: { cookie: ws.cookie } })).status).toBe(401)
  })

  it('keeps a screen signed in across a server restart', async () => {
    const s = await closed()
    const { cookie } = await pair(s)
    await t.stop(s)
    const again = await t.server({ PUBLIC_DASHBOARD: 'false', ADMIN_TOKEN: ADMIN }, s.dataDir)
    expect(await (await fetch(`${again.url}/api/screen`, { headers: { cookie } })).json()).toMatchObject({
      screen: { name: '3rd floor lobby' },
    })
    expect((await fetch(`${again.url}/live/poll`, { headers: { cookie } })).status).toBe(200)
  })
})

describe('a screen that is reconnecting', () => {
  it('gets an action sent while it had no connection as soon as it connects, on any transport', async () => {
    const s = await closed()
    const tv = await pair(s, '/tv', 'lobby offline')
    const act = await fetch(`${s.url}/api/admin/screens/${tv.screen}`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ action: 'identify' }),
    })
    expect((await act.json()).reached).toBe(0)
    const sse = new SseTestClient(`${s.url}/live/sse`, { cookie: tv.cookie })
    t.cleanup(() => sse.close())
    await until(
      () => sse.messages.find((m) => m.type === 'control' && m.data.name === 'lobby offline'),
      'the held identify'
    )
    expect(sse.messages[0]!.type).toBe('snapshot')
  })
})
