/**
 * @module The door in front of the dashboard. Signed in (or PUBLIC_DASHBOARD): the app, plus what
 * an admin can do to this screen from afar. Signed out: on any view, the pairing screen (a TV has
 * no keyboard) with a sign-in form for laptops. /pair and /admin are the admin's pages. A screen
 * that loses its access (revoked) goes back to a fresh pairing code by itself, never a blank page.
 */
import { Match, Show, Switch, createSignal, lazy, onCleanup, onMount, type JSX } from 'solid-js'
import { navigate, useLocation } from '../lib/router.tsx'
import {
  ACCESS_EVENT,
  CONTROL_EVENT,
  fetchMe,
  fetchScreen,
  MeContext,
  postJson,
  type ControlMessage,
  type Me,
} from './session.ts'
import { PairScreen } from './pair-screen.tsx'
import './access.css'

const RENEW_EVERY_MS = 6 * 3600_000

const Approve = lazy(() => import('./approve.tsx'))
const Admin = lazy(() => import('./admin.tsx'))

type State = { kind: 'loading' } | { kind: 'in'; me: Me } | { kind: 'out'; revoked: boolean } | { kind: 'offline' }

/**
 * A screen provisioned by script opens `/tv?pair=<link>`: the link leaves the address bar and the
 * history entry before anything else happens, then is exchanged once for the screen's cookie.
 */
async function redeemShareLink(): Promise<void> {
  const url = new URL(location.href)
  const link = url.searchParams.get('pair')
  if (!link) return
  url.searchParams.delete('pair')
  navigate(url.pathname + url.search + url.hash, { replace: true })
  try {
    await postJson('/api/pair/link', { link })
  } catch {
    // Used or expired: the pairing screen with a code follows.
  }
}

export function Gate(props: { children: () => JSX.Element }) {
  const [state, setState] = createSignal<State>({ kind: 'loading' })
  const [identify, setIdentify] = createSignal<string | null>(null)
  const loc = useLocation()

  const check = async (revoked = false, boot = false) => {
    try {
      const me = await fetchMe()
      if (me.signedIn && me.kind === 'screen') {
        // After a power cut a screen opens wherever its browser was: go to what it was told to show.
        const screen = await fetchScreen()
        if (boot && screen && screen.view !== location.pathname + location.search)
          navigate(screen.view, { replace: true })
      }
      setState(me.signedIn || me.publicDashboard ? { kind: 'in', me } : { kind: 'out', revoked })
    } catch {
      // The server is down: the app shows its own stale state; try again shortly.
      setState((s) => (s.kind === 'loading' ? { kind: 'offline' } : s))
      retry = setTimeout(() => void check(revoked, boot), 3000)
    }
  }
  let retry: ReturnType<typeof setTimeout> | undefined
  let identifyTimer: ReturnType<typeof setTimeout> | undefined

  const onAccess = (e: Event) => {
    const revoked = (e as CustomEvent<string>).detail === 'revoked'
    void check(revoked).then(() => {
      if (revoked && state().kind === 'in') setState({ kind: 'out', revoked: true })
    })
  }
  const onControl = (e: Event) => {
    const m = (e as CustomEvent<ControlMessage>).detail
    if (m.action === 'reload') location.reload()
    else if (m.action === 'show') navigate(m.view)
    else if (m.action === 'identify') {
      setIdentify(m.name)
      clearTimeout(identifyTimer)
      identifyTimer = setTimeout(() => setIdentify(null), m.forMs)
    }
  }
  onMount(() => {
    addEventListener(ACCESS_EVENT, onAccess)
    addEventListener(CONTROL_EVENT, onControl)
    void redeemShareLink().then(() => check(false, true))
  })
  // Asking who we are renews the session cookie: a TV that runs for months never lets it lapse.
  const renew = setInterval(() => state().kind === 'in' && void check(), RENEW_EVERY_MS)
  onCleanup(() => {
    removeEventListener(ACCESS_EVENT, onAccess)
    removeEventListener(CONTROL_EVENT, onControl)
    clearTimeout(retry)
    clearTimeout(identifyTimer)
    clearInterval(renew)
  })

  const path = () => loc().pathname
  const me = () => {
    const s = state()
    return s.kind === 'in' ? s.me : null
  }
  return (
    <Switch>
      <Match when={path() === '/pair'}>
        <Approve />
      </Match>
      <Match when={path() === '/admin' || path().startsWith('/admin/')}>
        <Admin />
      </Match>
      <Match when={state().kind === 'in' || state().kind === 'offline'}>
        <MeContext.Provider value={me}>{props.children()}</MeContext.Provider>
        <Show when={identify()}>
          <div class="identify" role="status" data-testid="identify">
            {identify()}
          </div>
        </Show>
      </Match>
      <Match when={state().kind === 'out'}>
        <PairScreen
          revoked={(state() as { revoked: boolean }).revoked}
          onSignedIn={(view) => {
            if (view) navigate(view, { replace: true })
            void check()
          }}
        />
      </Match>
    </Switch>
  )
}
