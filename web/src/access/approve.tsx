/**
 * @module /pair: an admin approves a screen's code from a phone or laptop — names the screen, picks
 * what it shows, approves. Signed out, it asks for a token first.
 */
import { Show, createResource, createSignal } from 'solid-js'
import { fetchAPI } from '../lib/api.ts'
import { createLatest, errorText } from '../lib/resource.ts'
import { TokenSignIn } from './pair-screen.tsx'
import type { PairingRequest as Request } from '../../../contract/access.ts'
import { fetchMe, postJson } from './session.ts'

const VIEWS: [string, string][] = [
  ['/tv', 'Builds board (wall mode)'],
  ['/tv?status=failing,running', 'Only what needs attention'],
  ['/sites?tv', 'Sites and Web Vitals'],
  ['/tv?rotate=builds,sites,metrics&every=30s', 'Rotation: builds, sites, metrics'],
]

export default function Approve() {
  const [meRes, { refetch }] = createResource(fetchMe)
  const me = createLatest(meRes)
  const [code, setCode] = createSignal(new URLSearchParams(location.search).get('code') ?? '')
  const [requestRes] = createResource(
    () =>
      me()?.role === 'admin' && /^[A-Za-z2-9]{4}-?[A-Za-z2-9]{4}$/.test(code().trim())
        ? code().trim().toUpperCase()
        : null,
    (c) => fetchAPI<Request>(`/api/pair/${encodeURIComponent(c)}`, { cache: 'no-store' })
  )
  /** The code's request once found: none while another code is looked up or this one was refused. */
  const request = () => (requestRes.state === 'ready' ? requestRes() : undefined)
  const [done, setDone] = createSignal<string | null>(null)
  const [error, setError] = createSignal<string | null>(null)
  let name!: HTMLInputElement
  let view!: HTMLSelectElement
  let custom!: HTMLInputElement

  const approve = async (e: Event) => {
    e.preventDefault()
    setError(null)
    try {
      const chosen = custom.value.trim() || view.value
      await postJson('/api/pair/approve', { code: code().trim(), name: name.value.trim(), view: chosen })
      setDone(name.value.trim())
    } catch (err) {
      setError(err instanceof Error ? err.message : 'approval failed')
    }
  }

  return (
    <div class="access-page" data-testid="approve-page">
      <h1>Pair a screen</h1>
      <Show when={!meRes.loading} fallback={<p>Loading…</p>}>
        <Show
          when={me()?.role === 'admin'}
          fallback={
            <>
              <p>Approving a screen needs an admin. Sign in:</p>
              <TokenSignIn onSignedIn={() => void refetch()} />
            </>
          }
        >
          <Show
            when={!done()}
            fallback={
              <p class="approved" role="status">
                ✓ “{done()}” is signed in and shows its board now. <a href="/admin">All screens</a>
              </p>
            }
          >
            <form class="approve-form" onSubmit={approve}>
              <label>
                Code on the screen{' '}
                <input
                  value={code()}
                  onInput={(e) => setCode(e.currentTarget.value)}
                  required
                  placeholder="ABCD-EFGH"
                  autocapitalize="characters"
                />
              </label>
              <Show when={requestRes.error}>
                <p class="form-error" role="alert">
                  {errorText(requestRes.error)}
                </p>
              </Show>
              <Show when={request()}>
                {(r) => (
                  <p class="muted" data-testid="pair-request">
                    Asked from {r().address}
                    {r().userAgent ? ` — ${r().userAgent!.slice(0, 80)}` : ''}; expires{' '}
                    {new Date(r().expiresAt).toLocaleTimeString()}.
                  </p>
                )}
              </Show>
              <label>
                Name <input ref={name} required maxLength={80} placeholder="3rd floor lobby" />
              </label>
              <label>
                Shows{' '}
                <select ref={view}>
                  {VIEWS.map(([v, label]) => (
                    <option value={v}>{label}</option>
                  ))}
                </select>
              </label>
              <label>
                or a path <input ref={custom} placeholder="/tv?project=acme/shop" />
              </label>
              <button type="submit" disabled={!request()}>
                Approve
              </button>
              <Show when={error()}>
                <p class="form-error" role="alert">
                  {error()}
                </p>
              </Show>
            </form>
          </Show>
        </Show>
      </Show>
    </div>
  )
}
