import { For, Show, createMemo } from 'solid-js'
import type { PipelineTile } from '../types.ts'
import { A } from '../lib/router.tsx'
import {
  WORD,
  ariaLabel,
  hint,
  lastFinished,
  progress,
  shown,
  shownBuild,
  subject,
  who,
} from '../lib/status.ts'
import { ago, duration, parseTime, short } from '../lib/time.ts'
import { StatusIcon } from './status-icon.tsx'

/** One pipeline + branch: status as colour, icon and word; who, what, when; progress while running. */
export function BuildTile(props: { tile: PipelineTile; now: number; tv?: boolean }) {
  const status = createMemo(() => shown(props.tile))
  const build = () => shownBuild(props.tile)
  const broken = () => lastFinished(props.tile) === 'failing'
  const prog = () => progress(props.tile, props.now)
  const since = (iso: string | null | undefined) => {
    const t = parseTime(iso)
    return t === null ? null : props.now - t
  }

  const age = () => {
    const s = status()
    if (s === 'failing') {
      const f = since(props.tile.brokenSince ?? props.tile.lastFailureAt)
      return f === null ? '' : `for ${short(f)}`
    }
    const p = prog()
    if (p) return duration(p.elapsedMs)
    const b = build()
    const f = since(b?.finishedAt ?? b?.updatedAt)
    return f === null ? '' : ago(f)
  }

  const whoLine = () => {
    const t = props.tile
    const s = status()
    if (s === 'failing') return t.brokenBy ? `broken by ${t.brokenBy}` : who(build()) ? `by ${who(build())}` : ''
    if ((s === 'running' || s === 'queued') && broken()) {
      const w = who(build())
      return `fixing? ${w ? `${w} · ` : ''}broken by ${t.brokenBy ?? 'unknown'}`
    }
    if (s === 'passing' && t.fixedBy) return `fixed by ${t.fixedBy}`
    const w = who(build())
    return w ? `${s === 'running' ? 'started by' : s === 'queued' ? 'queued by' : 'by'} ${w}` : ''
  }

  const eta = () => {
    const p = prog()
    if (!p || p.leftMs === null) return p ? 'no estimate yet' : ''
    return p.leftMs >= 0 ? `ETA ${duration(p.leftMs)}` : `${duration(-p.leftMs)} over`
  }

  const sub = () => {
    const t = props.tile
    const b = build()
    const parts = [t.branch || '(no branch)']
    if (t.pipeline && t.pipeline !== t.project) parts.push(t.pipeline)
    if (b?.number != null) parts.push(`#${b.number}`)
    return parts.join(' · ')
  }

  const updated = () => {
    const u = since(props.tile.updatedAt)
    return u === null ? null : ago(u)
  }

  /** The history hint, else the recent success rate: one short phrase. */
  const extra = () => {
    const h = hint(props.tile)
    if (h) return h
    const r = props.tile.successRate
    return typeof r === 'number' ? `${Math.round(r * 100)}% pass` : ''
  }

  return (
    <A
      class="tile"
      href={`/pipelines/${encodeURIComponent(props.tile.id)}${props.tv ? '?tv' : ''}`}
      data-status={status()}
      data-broken={broken() ? '' : undefined}
      data-default={props.tile.isDefaultBranch ? '' : undefined}
      data-testid="tile"
      data-tile-id={props.tile.id}
      aria-label={ariaLabel(props.tile, props.now)}
    >
      <div class="t-head t-text">
        <StatusIcon status={status()} />
        <span class="t-word">{WORD[status()]}</span>
        <span class="t-age">{age()}</span>
      </div>
      <div class="t-name t-text" title={props.tile.project}>
        {props.tile.project}
      </div>
      <div class="t-sub t-text">{sub()}</div>
      <div class="t-commit t-text">{subject(build()) ?? '—'}</div>
      <div class="t-who t-text">{whoLine() || '\u00a0'}</div>
      <Show when={prog()}>
        {(p) => (
          <div class="t-progress">
            <div
              class="t-bar"
              role="progressbar"
              aria-valuemin="0"
              aria-valuemax="100"
              aria-valuenow={p().fraction === null ? undefined : Math.round(p().fraction! * 100)}
              data-overdue={p().leftMs !== null && p().leftMs! < 0 ? '' : undefined}
              data-indeterminate={p().fraction === null ? '' : undefined}
            >
              <div class="t-fill" style={{ width: `${Math.round((p().fraction ?? 1) * 100)}%` }} />
            </div>
            <span class="t-eta t-text">{eta()}</span>
          </div>
        )}
      </Show>
      <Show when={!props.tv || !prog()}>
        <div class="t-extra t-text">
          <History recent={props.tile.recent} />
          <span>{extra()}</span>
          <Show when={!props.tv && updated()}>
            <span class="t-updated">updated {updated()}</span>
          </Show>
        </div>
      </Show>
    </A>
  )
}

/** The last builds as tiny marks, newest on the right; shape and colour both carry the result. */
function History(props: { recent: PipelineTile['recent'] }) {
  const marks = () => [...(props.recent ?? [])].slice(0, 10).reverse()
  return (
    <span class="t-history" aria-hidden="true">
      <For each={marks()}>{(s) => <i data-s={s} />}</For>
    </span>
  )
}
