/** @module The chrome around the views: the laptop header and the TV strip (counts, pages, status, clock). */
import { For, Show } from 'solid-js'
import { useLive } from '../lib/live.ts'
import { A, useLocation } from '../lib/router.tsx'
import type { BoardCounts } from '../lib/status.ts'
import { hhmm } from '../lib/time.ts'
import { useView } from '../lib/view.ts'
import { ConnectionBadge } from './connection-badge.tsx'
import { StatusIcon } from './status-icon.tsx'
import { useMe } from '../access/session.ts'

export function Counts(props: { counts: BoardCounts | null }) {
  return (
    <Show when={props.counts && props.counts.total > 0}>
      <span class="counts" data-testid="counts">
        <Show when={props.counts!.failing}>
          <span class="count" data-status="failing">
            <StatusIcon status="failing" /> {props.counts!.failing} failing
          </span>
        </Show>
        <Show when={props.counts!.running}>
          <span class="count" data-status="running">
            <StatusIcon status="running" /> {props.counts!.running} running
          </span>
        </Show>
        <Show when={props.counts!.passing || (!props.counts!.failing && !props.counts!.running)}>
          <span class="count" data-status="passing">
            <StatusIcon status="passing" /> {props.counts!.passing} passing
          </span>
        </Show>
      </span>
    </Show>
  )
}

export function Header(props: { counts: BoardCounts | null }) {
  const live = useLive()
  const me = useMe()
  const { alerts } = useView()
  const loc = useLocation()
  const path = () => loc().pathname
  return (
    <header class="topbar">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <span class="brand">Radiator</span>
      <nav aria-label="Views">
        <A href="/" aria-current={path() === '/' || path().startsWith('/pipelines') ? 'page' : undefined}>
          Builds
        </A>
        <A href="/sites" aria-current={path().startsWith('/sites') ? 'page' : undefined}>
          Sites
        </A>
        <A href="/custom-metrics" aria-current={path() === '/custom-metrics' ? 'page' : undefined}>
          Metrics
        </A>
        <a class="tv-link" href={`${path() === '/' ? '/tv' : path()}?tv`} target="_blank" rel="noopener">
          TV ↗
        </a>
        <Show when={me()?.role === 'admin'}>
          <a class="tv-link" href="/admin">
            Screens
          </a>
        </Show>
      </nav>
      <Counts counts={props.counts} />
      <span class="spacer" />
      <button
        type="button"
        class="tool"
        aria-pressed={alerts.soundOn()}
        title="Sounds for broken, fixed and still failing builds (key: m)"
        onClick={() => alerts.toggleSound()}
      >
        <span class="snd-ico" aria-hidden="true">
          {alerts.soundOn() ? '♪ on' : '♪ off'}
        </span>
        <span class="snd-txt">{alerts.soundOn() ? 'Sound on' : 'Sound off'}</span>
      </button>
      <Show when={alerts.permission() === 'default'}>
        <button type="button" class="tool notify" onClick={() => void alerts.askPermission()}>
          Enable notifications
        </button>
      </Show>
      <ConnectionBadge status={live.status()} />
    </header>
  )
}

export function TvHeader(props: { counts: BoardCounts | null }) {
  const live = useLive()
  const view = useView()
  const paging = () => view.paging()
  const ticker = () => view.alerts.ticker()
  return (
    <header class="tvbar">
      <Show when={view.caption()}>
        <span class="caption" data-testid="caption">
          {view.caption()}
        </span>
      </Show>
      <Counts counts={props.counts} />
      <span class="ticker" data-testid="ticker" data-transition={ticker()?.transition}>
        {ticker() ? `${ticker()!.text} · ${hhmm(ticker()!.at)}` : ''}
      </span>
      <Show when={paging() && paging()!.pages > 1}>
        <span
          class="pages"
          data-testid="pages"
          role="img"
          aria-label={`page ${paging()!.page + 1} of ${paging()!.pages}`}
        >
          <For each={paging()!.pages <= 12 ? Array.from({ length: paging()!.pages }) : []}>
            {(_, i) => <i data-on={i() === paging()!.page ? '' : undefined} />}
          </For>
          <span>
            {paging()!.page + 1}/{paging()!.pages}
          </span>
        </span>
      </Show>
      <ConnectionBadge status={live.status()} />
      <time class="clock" data-testid="clock">
        {hhmm(view.now())}
      </time>
    </header>
  )
}
