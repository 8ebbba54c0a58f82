/**
 * @module What a signed-out screen shows: a pairing code large enough to read across a room, a QR
 * code of the approval URL, and — for a laptop — a sign-in form for a token. The screen waits on
 * its code with a held request; the moment an admin approves, that request's answer carries the
 * screen's session and the board appears, with no reload and nobody touching the TV.
 */
import { Show, createSignal, onCleanup, onMount } from 'solid-js'
import type { PairingStarted as Pairing } from '../../../contract/access.ts'
import { postJson } from './session.ts'

export function PairScreen(props: { revoked: boolean; onSignedIn: (view: string | null) => void }) {
  const [pairing, setPairing] = createSignal<Pairing | null>(null)
  const [problem, setProblem] = createSignal<string | null>(null)
  const [showLogin, setShowLogin] = createSignal(false)
  let stopped = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let ctrl: AbortController | undefined

  const later = (ms: number, fn: () => void) => {
    clearTimeout(timer)
    if (!stopped) timer = setTimeout(fn, ms)
  }

  const start = async () => {
    try {
      const p = await postJson<Pairing>('/api/pair', {})
      setPairing(p)
      setProblem(null)
      void wait(p)
    } catch (e) {
      setProblem(e instanceof Error ? e.message : 'cannot reach Radiator')
      later(5000, () => void start())
    }
  }

  const wait = async (p: Pairing) => {
    while (!stopped && pairing() === p) {
      ctrl = new AbortController()
      try {
        const res = await fetch(`/api/pair/wait?device=${encodeURIComponent(p.device)}`, {
          cache: 'no-store',
          signal: ctrl.signal,
        })
        const body = (await res.json()) as { status: string; view?: string }
        if (body.status === 'approved') return props.onSignedIn(body.view ?? null)
        if (res.status === 410 || body.status === 'expired') return void start() // a fresh code
      } catch {
        if (stopped) return
        await new Promise((r) => setTimeout(r, 2000))
      }
    }
  }

  onMount(() => void start())
  onCleanup(() => {
    stopped = true
    clearTimeout(timer)
    ctrl?.abort()
  })

  return (
    <div class="pair" data-testid="pair-screen">
      <Show when={props.revoked}>
        <p class="pair-revoked" role="alert">
          Access revoked — pair this screen again
        </p>
      </Show>
      <h1 class="pair-title">Radiator</h1>
      <Show when={pairing()} fallback={<p class="pair-wait">{problem() ?? 'Getting a pairing code…'}</p>}>
        {(p) => (
          <div class="pair-body">
            <div class="pair-text">
              <p class="pair-step">To show the board here, approve this code:</p>
              <p
                class="pair-code"
                data-testid="pair-code"
                role="status"
                aria-label={`pairing code ${p().code.split('').join(' ')}`}
              >
                {p().code}
              </p>
              <p class="pair-step">
                Scan the QR code, or open <strong>{new URL(p().approveUrl).host}/pair</strong> and type the code.
              </p>
              <p class="pair-fine">The code works once, for 10 minutes; a new one follows by itself.</p>
            </div>
            <img class="pair-qr" src={`/api/pair/qr.svg?code=${p().code}`} alt="QR code of the approval link" />
          </div>
        )}
      </Show>
      <Show
        when={showLogin()}
        fallback={
          <button type="button" class="link pair-login-link" onClick={() => setShowLogin(true)}>
            Sign in with a token instead
          </button>
        }
      >
        <TokenSignIn onSignedIn={() => props.onSignedIn(null)} />
      </Show>
    </div>
  )
}

/** A laptop signs in with an API token; the browser keeps only the session cookie. */
export function TokenSignIn(props: { onSignedIn: () => void }) {
  const [error, setError] = createSignal<string | null>(null)
  let input!: HTMLInputElement
  const submit = async (e: Event) => {
    e.preventDefault()
    try {
      await postJson('/auth/session', { token: input.value.trim() })
      input.value = ''
      props.onSignedIn()
    } catch (err) {
      setError(err instanceof Error ? err.message : 'sign-in failed')
    }
  }
  return (
    <form class="token-signin" onSubmit={submit}>
      <label>
        Token <input ref={input} type="password" autocomplete="off" required placeholder="rad_…" />
      </label>
      <button type="submit">Sign in</button>
      <Show when={error()}>
        <p class="form-error" role="alert">
          {error()}
        </p>
      </Show>
      <p class="muted">Or open the one-time sign-in link Radiator printed when it started.</p>
    </form>
  )
}
