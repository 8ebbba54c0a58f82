import { For, Show, createEffect, createMemo, createSignal, on, onCleanup } from 'solid-js'
import type { PipelineTile } from '../types.ts'
import { A } from '../lib/router.tsx'
import {
  WORD,
  ariaLabel,
  colour,
  fixedBy,
  hint,
  lastFinished,
  progress,
  shown,
  shownBuild,
  subject,
  who,
} from '../lib/status.ts'
import { ago, clock, duration, parseTime, short } from '../lib/time.ts'
import { StatusIcon } from './status-icon.tsx'

/** How long a tile is highlighted after its build changed: the wall's own notification. */
export const CHANGED_MS = 6_000

/** True for a while after the shown build moves on (a new build, or a new state of it). */
function useChanged(tile: () => PipelineTile) {
  const [changed, setChanged] = createSignal(false)
  let timer: ReturnType<typeof setTimeout> | undefined
  createEffect(
    on(
      () => {
        const b = shownBuild(tile())
        return `${b?.id}|${b?.status}`
      },
      () => {
        setChanged(true)
        clearTimeout(timer)
        timer = setTimeout(() => setChanged(false), CHANGED_MS)
      },
      { defer: true }
    )
  )
  onCleanup(() => clearTimeout(timer))
  return changed
}

/** A name without the prefix every tile on the board shares (the board says it once). */
const nameOf = (t: PipelineTile, prefix?: string) =>
  prefix && t.project.startsWith(prefix) && t.project.length > prefix.length
    ? t.project.slice(prefix.length)
    : t.project

/** The branch line: branch, pipeline and build number, each its own piece so none is lost. */
function SubLine(props: { tile: PipelineTile; hidePipeline?: boolean }) {
  const b = () => shownBuild(props.tile)
  return (
    <div class="t-sub" data-fit>
      <span class="t-branch">{props.tile.branch || '(no branch)'}</span>
      <Show when={!props.hidePipeline && props.tile.pipeline && props.tile.pipeline !== props.tile.project}>
        <span class="t-pipeline">{props.tile.pipeline}</span>
      </Show>
      <Show when={b()?.number != null}>
        <span class="t-num">#{b()!.number}</span>
      </Show>
    </div>
  )
}

/** One pipeline + branch: status as colour, icon and word; who, what, when; progress while running. */
export function BuildTile(props: {
  tile: PipelineTile
  now: number
  tv?: boolean
  prefix?: string
  hidePipeline?: boolean
}) {
  const status = createMemo(() => shown(props.tile, props.now))
  const paint = createMemo(() => colour(props.tile, props.now))
  const build = () => shownBuild(props.tile)
  const broken = () => lastFinished(props.tile) === 'failing'
  const changed = useChanged(() => props.tile)
  const prog = () => (status() === 'silent' ? null : progress(props.tile, props.now))
  const since = (iso: string | null | undefined) => {
    const t = parseTime(iso)
    return t === null ? null : props.now - t
  }

  const age = () => {
    const s = status()
    if (s === 'failing' || broken()) {
      const f = since(props.tile.brokenSince ?? props.tile.lastFailureAt)
      return f === null ? '' : `for ${short(f)}`
    }
    if (s === 'silent') {
      const b = build()
      const f = since(b?.startedAt ?? b?.queuedAt ?? b?.updatedAt)
      return f === null ? '' : `started ${short(f)} ago`
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
    if (s === 'silent') {
      const at = parseTime(build()?.updatedAt)
      return `no word from CI since ${at === null ? 'it started' : clock(at, props.now)}`
    }
    if ((s === 'running' || s === 'queued') && broken()) {
      const w = who(build())
      return `broken by ${t.brokenBy ?? 'unknown'} · fix ${s}${w ? ` by ${w}` : ''}`
    }
    if (s === 'passing' && fixedBy(t)) return `fixed by ${fixedBy(t)}`
    const w = who(build())
    return w ? `${s === 'running' ? 'started by' : s === 'queued' ? 'queued by' : 'by'} ${w}` : ''
  }

  const eta = () => {
    const p = prog()
    if (!p || p.leftMs === null) return p ? 'no estimate yet' : ''
    return p.leftMs >= 0 ? `ETA ${duration(p.leftMs)}` : `${duration(-p.leftMs)} over`
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
      data-status={paint()}
      data-activity={status() !== paint() ? status() : undefined}
      data-broken={broken() ? '' : undefined}
      data-changed={changed() ? '' : undefined}
      data-default={props.tile.isDefaultBranch ? '' : undefined}
      data-testid="tile"
      data-tile-id={props.tile.id}
      aria-label={ariaLabel(props.tile, props.now)}
    >
      <div class="t-head t-text">
        <StatusIcon status={paint()} />
        <span class="t-word">{WORD[paint()]}</span>
        <span class="t-age">{age()}</span>
      </div>
      <div class="t-name" data-fit title={props.tile.project}>
        {nameOf(props.tile, props.prefix)}
      </div>
      <SubLine tile={props.tile} hidePipeline={props.hidePipeline} />
      <div class="t-commit t-text" data-drop="2">
        {subject(build()) ?? '—'}
      </div>
      <div class="t-who" data-fit>
        {whoLine() || '\u00a0'}
      </div>
      <Show when={prog()}>
        {(p) => (
          <div class="t-progress">
            <Show when={broken()}>
              <span class="t-also">
                <StatusIcon status={status()} /> fix
              </span>
            </Show>
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
        <div class="t-extra t-text" data-drop="1">
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

/** A pipeline in a few words for the compact part of a wall: status, name, branch and number. */
export function CompactTile(props: { tile: PipelineTile; now: number; prefix?: string; hidePipeline?: boolean }) {
  const status = createMemo(() => shown(props.tile, props.now))
  const paint = createMemo(() => colour(props.tile, props.now))
  const changed = useChanged(() => props.tile)
  return (
    <A
      class="tile chip"
      href={`/pipelines/${encodeURIComponent(props.tile.id)}?tv`}
      data-status={paint()}
      data-activity={status() !== paint() ? status() : undefined}
      data-compact=""
      data-changed={changed() ? '' : undefined}
      data-testid="tile"
      data-tile-id={props.tile.id}
      aria-label={ariaLabel(props.tile, props.now)}
    >
      <StatusIcon status={paint()} />
      <div class="chip-text">
        <div class="t-name" data-fit title={props.tile.project}>
          {nameOf(props.tile, props.prefix)}
        </div>
        <SubLine tile={props.tile} hidePipeline={props.hidePipeline} />
      </div>
    </A>
  )
}
