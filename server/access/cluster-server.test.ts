/**
 * Access on two real servers of one cluster (one PostgreSQL database, one NATS): what a load balancer
 * in front of them would let a client see. A token made through A opens B; revoked through B, it is
 * refused by A and its WebSocket on A is closed with 4401; a screen that asked A for a code and waits
 * on A is released when the admin approves on B, and its cookie opens B; wrong tokens spread over both
 * servers run out one allowance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { perTest, until } from '../test/harness.ts'
import { testCluster, type TestCluster } from '../test/cluster.ts'
import { servicesUp } from '../test/services.ts'
import { AUTH_FAILURES_PER_MINUTE } from './guard.ts'

const up = servicesUp('postgres', 'nats')
const ADMIN = 'admin-secret-for-the-cluster'
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }

describe.skipIf(!up)('access on two servers of a cluster', () => {
  const t = perTest()
  let cluster: TestCluster
  beforeAll(async () => {
    cluster = await testCluster()
  })
  afterAll(async () => {
    await cluster?.drop()
  })
  const two = async () => {
    const env = { ...cluster.env, PUBLIC_DASHBOARD: 'false', ADMIN_TOKEN: ADMIN }
    return [await t.server(env), await t.server(env)] as const
  }
  const status = async (url: string, headers: Record<string, string>) => (await fetch(url, { headers })).status

  it('opens B with a token made on A, and cuts it on A, live connection included, when B revokes it', async () => {
    const [a, b] = await two()
    const made = await fetch(`${a.url}/api/admin/tokens`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'wall script', role: 'viewer' }),
    })
    const { id, token } = await made.json()
    const bearer = { authorization: `Bearer ${token}` }
    await until(async () => (await status(`${b.url}/api/builds`, bearer)) === 200, 'B accepts the token')

    const socket = new WebSocket(`${a.url.replace('http', 'ws')}/live`, { headers: bearer })
    t.cleanup(() => socket.close())
    const closed = new Promise<number>((r) => socket.on('close', (code) => r(code)))
    await new Promise((r, j) => socket.once('message', r).once('error', j))

    expect((await fetch(`${b.url}/api/admin/tokens/${id}`, { method: 'DELETE', headers: admin })).status).toBe(200)
    expect(await closed).toBe(4401)
    await until(async () => (await status(`${a.url}/api/builds`, bearer)) === 401, 'A refuses the token')
  })

  it("releases a screen's wait on A when its code is approved on B; its cookie opens B", async () => {
    const [a, b] = await two()
    const { code, device } = await (await fetch(`${a.url}/api/pair`, { method: 'POST' })).json()
    const waiting = fetch(`${a.url}/api/pair/wait?device=${device}`)
    await until(async () => (await status(`${b.url}/api/pair/${code}`, admin)) === 200, 'B knows the code')
    const approved = await fetch(`${b.url}/api/pair/approve`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ code, name: 'lobby', view: '/tv?project=acme/shop' }),
    })
    expect(approved.status).toBe(201)
    const res = await waiting
    expect(await res.json()).toEqual({ status: 'approved', view: '/tv?project=acme/shop', name: 'lobby' })
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!
    const screen = await until(async () => {
      const r = await fetch(`${b.url}/api/screen`, { headers: { cookie } })
      return r.status === 200 && (await r.json()).screen
    }, 'B knows the screen')
    expect(screen).toMatchObject({ name: 'lobby', view: '/tv?project=acme/shop' })
    // Used up on both.
    const again = { method: 'POST', headers: admin, body: JSON.stringify({ code, name: 'x' }) }
    expect((await fetch(`${a.url}/api/pair/approve`, again)).status).toBe(404)
    expect((await fetch(`${b.url}/api/pair/approve`, again)).status).toBe(404)
  })

  it('steers a screen connected to A from B, lists it live on B, and holds an action for a screen between connections', async () => {
    const [a, b] = await two()
    const { code, device } = await (await fetch(`${a.url}/api/pair`, { method: 'POST' })).json()
    const waiting = fetch(`${a.url}/api/pair/wait?device=${device}`)
    await until(async () => (await status(`${b.url}/api/pair/${code}`, admin)) === 200, 'B knows the code')
    const approved = await fetch(`${b.url}/api/pair/approve`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ code, name: 'hall', view: '/tv' }),
    })
    const { screen } = await approved.json()
    const cookie = (await waiting).headers.get('set-cookie')!.split(';')[0]!
    const act = (body: object) =>
      fetch(`${b.url}/api/admin/screens/${screen}`, { method: 'POST', headers: admin, body: JSON.stringify(body) })

    // Between connections: held, and given to its next connection, here a poll on A.
    expect((await (await act({ action: 'reload' })).json()).reached).toBe(0)
    const polled = await until(async () => {
      const r = await (await fetch(`${a.url}/live/poll`, { headers: { cookie } })).json()
      return r.events?.find((e: { type: string }) => e.type === 'control')
    }, 'the held reload on A')
    expect(polled.data).toEqual({ action: 'reload' })

    const messages: { type: string; data?: { action?: string; name?: string } }[] = []
    const socket = new WebSocket(`${a.url.replace('http', 'ws')}/live`, { headers: { cookie } })
    t.cleanup(() => socket.close())
    socket.on('message', (d) => messages.push(JSON.parse(String(d))))
    await until(() => messages.length, 'connected to A')
    const list = await (await fetch(`${b.url}/api/admin/screens`, { headers: admin })).json()
    expect(list.screens.find((x: { id: string }) => x.id === screen)).toMatchObject({
      live: true,
      connections: [expect.objectContaining({ transport: 'ws' })],
    })
    expect((await (await act({ action: 'identify' })).json()).reached).toBe(1)
    await until(
      () => messages.find((m) => m.type === 'control' && m.data?.action === 'identify' && m.data.name === 'hall'),
      'the identify over A'
    )
  })

  it('gives an address one allowance of wrong tokens across both servers', async () => {
    const [a, b] = await two()
    const wrong = { authorization: 'Bearer not-a-token' }
    for (let n = 0; n < AUTH_FAILURES_PER_MINUTE; n++)
      expect(await status(`${(n % 2 ? a : b).url}/api/builds`, wrong)).toBe(401)
    // Each server saw half; the other half reached it over the bus (an announcement still on its way
    // may let one more through, never the half a server would give on its own).
    for (const s of [a, b]) {
      let more = 0
      await until(async () => (await status(`${s.url}/api/builds`, wrong)) === 429 || void more++, 'a 429')
      expect(more).toBeLessThan(AUTH_FAILURES_PER_MINUTE / 2)
    }
  })
})
