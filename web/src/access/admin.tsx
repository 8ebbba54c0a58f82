/**
 * @module /admin: every paired screen (what it shows, live or not, how and from where it is
 * connected) with identify, reload, show, rename and revoke; and the API tokens.
 */
import { For, Show, createResource, createSignal, onCleanup } from 'solid-js'
import { fetchAPI } from '../lib/api.ts'
import { createLatest } from '../lib/resource.ts'
import { TokenSignIn } from './pair-screen.tsx'
import type { ScreenRow, TokenInfo as TokenRow } from '../../../contract/access.ts'
import { fetchMe, postJson } from './session.ts'

const get = <T,>(path: string) => fetchAPI<T>(path, { cache: 'no-store' })
const when = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleString() : '—')
const browser = (ua: string | null) =>
  ua ? (/(Chrome|Firefox|Safari|Edg)\/[\d.]+/.exec(ua)?.[0] ?? ua.slice(0, 40)) : '—'

export default function Admin() {
  const [meRes, { refetch: refetchMe }] = createResource(fetchMe)
  const me = createLatest(meRes)
  const admin = () => me()?.role === 'admin'
  const [screensRes, { refetch }] = createResource(admin, () => get<{ screens: ScreenRow[] }>('/api/admin/screens'))
  const [tokensRes, { refetch: refetchTokens }] = createResource(admin, () =>
    get<{ tokens: TokenRow[] }>('/api/admin/tokens')
  )
  // A failed poll keeps the lists it had.
  const screens = createLatest(screensRes)
  const tokens = createLatest(tokensRes)
  const [note, setNote] = createSignal<string | null>(null)
  const [secret, setSecret] = createSignal<string | null>(null)
  const poll = setInterval(() => admin() && void refetch(), 5000)
  onCleanup(() => clearInterval(poll))

  const act = async (id: string, body: Record<string, string>) => {
    try {
      const r = await postJson<{ reached: number }>(`/api/admin/screens/${id}`, body)
      setNote(r.reached ? `Sent “${body.action}”.` : `Saved; the screen gets it when it is next connected.`)
      void refetch()
    } catch (e) {
      setNote(e instanceof Error ? e.message : 'failed')
    }
  }
  const revoke = async (s: ScreenRow) => {
    if (!confirm(`Revoke “${s.name}”? It goes back to a pairing code.`)) return
    await postJson(`/api/admin/screens/${s.id}`, undefined, 'DELETE').catch((e) => setNote(String(e.message)))
    void refetch()
  }
  let tokenName!: HTMLInputElement
  let tokenRole!: HTMLSelectElement
  const createToken = async (e: Event) => {
    e.preventDefault()
    const t = await postJson<{ token: string }>('/api/admin/tokens', {
      name: tokenName.value.trim(),
      role: tokenRole.value,
    })
    setSecret(t.token)
    tokenName.value = ''
    void refetchTokens()
  }

  return (
    <div class="access-page admin" data-testid="admin-page">
      <h1>Screens and tokens</h1>
      <Show when={!meRes.loading} fallback={<p>Loading…</p>}>
        <Show
          when={admin()}
          fallback={
            <>
              <p>This page needs an admin. Sign in:</p>
              <TokenSignIn onSignedIn={() => void refetchMe()} />
            </>
          }
        >
          <p>
            <a href="/pair">Pair a screen</a> · <a href="/">Board</a>
          </p>
          <Show when={note()}>
            <p role="status" class="muted">
              {note()}
            </p>
          </Show>
          <table class="screens" data-testid="screens">
            <thead>
              <tr>
                <th>Screen</th>
                <th>Shows</th>
                <th>State</th>
                <th>Connected</th>
                <th>Version</th>
                <th>Address · browser</th>
                <th>Last seen</th>
                <th />
              </tr>
            </thead>
            <tbody>
              <For
                each={screens()?.screens ?? []}
                fallback={
                  <tr>
                    <td colSpan={8} class="muted">
                      No screens yet: open /tv on a TV and approve its code here.
                    </td>
                  </tr>
                }
              >
                {(s) => (
                  <tr data-screen={s.id}>
                    <td>{s.name}</td>
                    <td>
                      <code>{s.view}</code>
                    </td>
                    <td>{s.live ? <span class="live-dot">live</span> : <span class="muted">offline</span>}</td>
                    <td>
                      {s.connections[0]
                        ? `${s.connections[0].transport} since ${new Date(s.connections[0].connectedAt).toLocaleTimeString()}`
                        : '—'}
                    </td>
                    <td>{s.version ?? '—'}</td>
                    <td>
                      {s.address ?? '—'} · {browser(s.userAgent)}
                    </td>
                    <td>{when(s.lastSeenAt)}</td>
                    <td class="actions">
                      <button type="button" onClick={() => void act(s.id, { action: 'identify' })}>
                        Identify
                      </button>
                      <button type="button" onClick={() => void act(s.id, { action: 'reload' })}>
                        Reload
                      </button>
                      <button
                        type="button"
                        onClick={() => {
                          const v = prompt('Path to show', s.view)
                          if (v) void act(s.id, { action: 'show', view: v })
                        }}
                      >
                        Show…
                      </button>
                      <button
                        type="button"
                        onClick={() => {
                          const n = prompt('New name', s.name)
                          if (n) void act(s.id, { action: 'rename', name: n })
                        }}
                      >
                        Rename…
                      </button>
                      <button type="button" class="danger" onClick={() => void revoke(s)}>
                        Revoke
                      </button>
                    </td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
          <h2>API tokens</h2>
          <form class="token-form" onSubmit={createToken}>
            <input ref={tokenName} required maxLength={100} placeholder="CCMenu on Ana's Mac" />
            <select ref={tokenRole}>
              <option value="viewer">viewer</option>
              <option value="metrics-push">metrics-push</option>
              <option value="admin">admin</option>
            </select>
            <button type="submit">Create token</button>
          </form>
          <Show when={secret()}>
            <p role="status">
              New token, shown once: <code data-testid="new-token">{secret()}</code>
            </p>
          </Show>
          <table class="screens">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              <For each={(tokens()?.tokens ?? []).filter((t) => !t.revokedAt)}>
                {(t) => (
                  <tr>
                    <td>{t.name}</td>
                    <td>{t.role}</td>
                    <td>{when(t.createdAt)}</td>
                    <td>{when(t.lastUsedAt)}</td>
                    <td>
                      <button
                        type="button"
                        class="danger"
                        onClick={() =>
                          void postJson(`/api/admin/tokens/${t.id}`, undefined, 'DELETE').then(() => refetchTokens())
                        }
                      >
                        Revoke
                      </button>
                    </td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </Show>
      </Show>
    </div>
  )
}
