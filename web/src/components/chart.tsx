/**
 * @module Hand-drawn SVG charts (a few hundred bytes instead of a charting library): a time series
 * with deploy markers, and the bars of build durations. Labels are SVG text, never markup.
 */
import { For, Show, createMemo, createSignal, onCleanup, onMount, type JSX } from 'solid-js'
import { hhmm } from '../lib/time.ts'

export interface Point {
  t: number
  v: number
}
export interface Marker {
  t: number
  label: string
  kind: string
}

interface Size {
  w: number
  h: number
  /** The wrapper's font size in px: paddings and ticks scale with it (1080p → 4K). */
  fs: number
}

/**
 * Draws in CSS pixels: the viewBox follows the element's measured size, so text and strokes keep
 * their size on any screen instead of stretching with the chart.
 */
function Sized(props: { height: string; class: string; children: (s: Size) => JSX.Element }) {
  let el!: HTMLDivElement
  const [size, setSize] = createSignal<Size>({ w: 600, h: 160, fs: 15 })
  onMount(() => {
    const measure = () => {
      const r = el.getBoundingClientRect()
      const fs = parseFloat(getComputedStyle(el).fontSize) || 15
      if (r.width > 0 && r.height > 0) setSize({ w: Math.round(r.width), h: Math.round(r.height), fs })
    }
    measure()
    const ro = new ResizeObserver(measure)
    ro.observe(el)
    onCleanup(() => ro.disconnect())
  })
  return (
    <div class={`chart-wrap ${props.class}`} ref={el} style={{ height: props.height }}>
      {props.children(size())}
    </div>
  )
}

function niceMax(v: number): number {
  if (v <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  const m = v / p
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
}

/** A round duration (ms) at or above `v`: 30 s, 1, 2, 5, 10, 15, 20, 30 min, then whole hours. */
function niceDuration(v: number): number {
  const steps = [30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1200e3, 1800e3, 3600e3]
  return steps.find((s) => s >= v) ?? Math.ceil(v / 3600e3) * 3600e3
}

/** Markers closer than `px` merge into one (a release train of ten builds is one line, not ten). */
export function clusterMarkers(ms: Marker[], x: (t: number) => number, px: number): (Marker & { x: number })[] {
  const out: (Marker & { x: number; n: number })[] = []
  for (const m of [...ms].sort((a, b) => a.t - b.t)) {
    const mx = x(m.t)
    const last = out[out.length - 1]
    if (last && mx - last.x < px) {
      last.n++
      last.label = `${last.n} builds: ${last.label.replace(/^\d+ builds: /, '')}; ${m.label}`
      if (m.kind === 'success') last.kind = 'success'
      continue
    }
    out.push({ ...m, x: mx, n: 1 })
  }
  return out
}

/**
 * A line + area over [from, to] for `series[0]`, a dashed line for `series[1]`, and vertical
 * markers (deploys) inside the range.
 */
export function TimeChart(props: {
  series: Point[][]
  from: number
  to: number
  markers?: Marker[]
  /** A CSS length. */
  height?: string
  label: string
  axis?: boolean
}) {
  return (
    <Sized height={props.height ?? '10rem'} class="time">
      {(s) => <TimeSvg {...props} s={s} />}
    </Sized>
  )
}

function TimeSvg(props: {
  series: Point[][]
  from: number
  to: number
  markers?: Marker[]
  label: string
  axis?: boolean
  s: Size
}) {
  const W = () => props.s.w
  const H = () => props.s.h
  const em = () => props.s.fs
  const pad = () =>
    props.axis === false
      ? { l: 2, r: 2, t: 0.4 * em(), b: 2 }
      : { l: 2.4 * em(), r: 0.6 * em(), t: 0.8 * em(), b: 1.4 * em() }
  const max = createMemo(() => niceMax(Math.max(0, ...props.series.flat().map((p) => p.v))))
  const x = (t: number) => {
    const p = pad()
    const span = Math.max(1, props.to - props.from)
    return p.l + ((t - props.from) / span) * (W() - p.l - p.r)
  }
  const y = (v: number) => {
    const p = pad()
    return H() - p.b - (v / max()) * (H() - p.t - p.b)
  }
  const line = (pts: Point[]) => pts.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('')
  const area = (pts: Point[]) =>
    pts.length ? `${line(pts)}L${x(pts[pts.length - 1]!.t).toFixed(1)},${y(0)}L${x(pts[0]!.t).toFixed(1)},${y(0)}Z` : ''
  const markers = createMemo(() =>
    clusterMarkers(
      (props.markers ?? []).filter((m) => m.t >= props.from && m.t <= props.to),
      x,
      0.5 * em()
    )
  )
  const tri = () => 0.35 * em()

  return (
    <svg class="chart" viewBox={`0 0 ${W()} ${H()}`} width={W()} height={H()} role="img" aria-label={props.label}>
      <Show when={props.axis !== false}>
        <line class="axis" x1={pad().l} x2={W() - pad().r} y1={y(0)} y2={y(0)} />
        <line class="grid" x1={pad().l} x2={W() - pad().r} y1={y(max())} y2={y(max())} />
        <text class="tick" x={pad().l - 0.3 * em()} y={y(max()) + 0.3 * em()} text-anchor="end">
          {max()}
        </text>
        <text class="tick" x={pad().l - 0.3 * em()} y={y(0)} text-anchor="end">
          0
        </text>
        <text class="tick" x={pad().l} y={H() - 0.25 * em()}>
          {hhmm(props.from)}
        </text>
        <text class="tick" x={W() - pad().r} y={H() - 0.25 * em()} text-anchor="end">
          {hhmm(props.to)}
        </text>
      </Show>
      <Show when={props.series[0]?.length}>
        <path class="area" d={area(props.series[0]!)} />
        <path class="line" d={line(props.series[0]!)} />
      </Show>
      <Show when={props.series[1]?.length}>
        <path class="line2" d={line(props.series[1]!)} />
      </Show>
      <For each={markers()}>
        {(m) => (
          <g class="marker" data-kind={m.kind} data-testid="deploy-marker">
            <title>{m.label}</title>
            <line x1={m.x} x2={m.x} y1={pad().t} y2={y(0)} />
            <path d={`M${m.x - tri()},${pad().t - tri() / 2}h${2 * tri()}l-${tri()},${1.4 * tri()}z`} />
          </g>
        )}
      </For>
    </svg>
  )
}

export interface Bar {
  v: number
  kind: string
  label: string
}

/** Build durations as bars (oldest left), coloured and patterned by result, with the median line. */
export function BarChart(props: { bars: Bar[]; median?: number | null; label: string; format: (v: number) => string }) {
  return (
    <Sized height="12rem" class="bars">
      {(s) => <BarSvg {...props} s={s} />}
    </Sized>
  )
}

function BarSvg(props: { bars: Bar[]; median?: number | null; label: string; format: (v: number) => string; s: Size }) {
  const W = () => props.s.w
  const H = () => props.s.h
  const em = () => props.s.fs
  const pad = () => ({ l: 3.6 * em(), r: 0.6 * em(), t: 0.8 * em(), b: 0.5 * em() })
  const max = createMemo(() => niceDuration(Math.max(props.median ?? 0, ...props.bars.map((b) => b.v)) * 1.1))
  const bw = () => (W() - pad().l - pad().r) / Math.max(props.bars.length, 20)
  const y = (v: number) => H() - pad().b - (v / max()) * (H() - pad().t - pad().b)
  // The median has its own label; the top one gives way when they would collide.
  const topLabel = () => !props.median || Math.abs(y(max()) - y(props.median)) > em()
  return (
    <svg class="chart" viewBox={`0 0 ${W()} ${H()}`} width={W()} height={H()} role="img" aria-label={props.label}>
      <defs>
        <pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
          <rect width="3" height="6" class="hatch" />
        </pattern>
      </defs>
      <line class="axis" x1={pad().l} x2={W() - pad().r} y1={y(0)} y2={y(0)} />
      <Show when={topLabel()}>
        <text class="tick" x={pad().l - 0.3 * em()} y={y(max()) + 0.3 * em()} text-anchor="end">
          {props.format(max())}
        </text>
      </Show>
      <line class="grid" x1={pad().l} x2={W() - pad().r} y1={y(max())} y2={y(max())} />
      <For each={props.bars}>
        {(b, i) => (
          <rect
            class="bar"
            data-kind={b.kind}
            x={pad().l + i() * bw() + 1}
            y={y(b.v)}
            width={Math.max(1, bw() - 2)}
            height={Math.max(1, y(0) - y(b.v))}
          >
            <title>{b.label}</title>
          </rect>
        )}
      </For>
      <Show when={props.median}>
        {(m) => (
          <g class="median">
            <line x1={pad().l} x2={W() - pad().r} y1={y(m())} y2={y(m())} />
            <text class="tick" x={pad().l - 0.3 * em()} y={y(m()) + 0.3 * em()} text-anchor="end">
              {props.format(m())}
            </text>
          </g>
        )}
      </Show>
    </svg>
  )
}

/**
 * A metric's recent values on its own scale: the lowest and highest value seen are labelled on the
 * left, the times of the first and last point below, and `warn`/`crit` thresholds are lines in
 * their colours (the range stretches to show them).
 */
export function ScaleChart(props: {
  points: Point[]
  warn?: number
  crit?: number
  height?: string
  label: string
  format: (v: number) => string
}) {
  return (
    <Sized height={props.height ?? '6rem'} class="scale">
      {(s) => <ScaleSvg {...props} s={s} />}
    </Sized>
  )
}

function ScaleSvg(props: {
  points: Point[]
  warn?: number
  crit?: number
  label: string
  format: (v: number) => string
  s: Size
}) {
  const W = () => props.s.w
  const H = () => props.s.h
  const em = () => props.s.fs
  const values = () => props.points.map((p) => p.v)
  const lo = () => Math.min(...values())
  const hi = () => Math.max(...values())
  const thresholds = () =>
    (
      [
        ['warn', props.warn],
        ['crit', props.crit],
      ] as const
    ).filter((t): t is readonly ['warn' | 'crit', number] => typeof t[1] === 'number' && Number.isFinite(t[1]))
  const range = createMemo(() => {
    let a = Math.min(lo(), ...thresholds().map((t) => t[1]))
    let b = Math.max(hi(), ...thresholds().map((t) => t[1]))
    if (a === b) {
      const d = Math.abs(a) * 0.1 || 1
      a -= d
      b += d
    }
    const m = (b - a) * 0.08
    return [a - m, b + m] as const
  })
  const labelW = () => Math.max(2.2, ...[lo(), hi()].map((v) => props.format(v).length * 0.62)) * em()
  const pad = () => ({ l: labelW() + 0.4 * em(), r: 0.4 * em(), t: 0.6 * em(), b: 1.3 * em() })
  const t0 = () => props.points[0]?.t ?? 0
  const t1 = () => props.points[props.points.length - 1]?.t ?? 1
  const x = (t: number) => pad().l + ((t - t0()) / Math.max(1, t1() - t0())) * (W() - pad().l - pad().r)
  const y = (v: number) => {
    const [a, b] = range()
    return H() - pad().b - ((v - a) / (b - a)) * (H() - pad().t - pad().b)
  }
  const line = () => props.points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('')
  // The min label gives way when it would sit on the max label.
  const both = () => lo() !== hi() && y(lo()) - y(hi()) > 0.8 * em()
  return (
    <svg class="chart" viewBox={`0 0 ${W()} ${H()}`} width={W()} height={H()} role="img" aria-label={props.label}>
      <For each={thresholds()}>
        {([kind, v]) => (
          <line
            class="threshold"
            data-kind={kind}
            data-testid={`threshold-${kind}`}
            x1={pad().l}
            x2={W() - pad().r}
            y1={y(v)}
            y2={y(v)}
          />
        )}
      </For>
      <line class="grid" x1={pad().l} x2={W() - pad().r} y1={y(hi())} y2={y(hi())} />
      <text class="tick" data-testid="scale-max" x={pad().l - 0.3 * em()} y={y(hi()) + 0.35 * em()} text-anchor="end">
        {props.format(hi())}
      </text>
      <Show when={both()}>
        <line class="grid" x1={pad().l} x2={W() - pad().r} y1={y(lo())} y2={y(lo())} />
        <text class="tick" data-testid="scale-min" x={pad().l - 0.3 * em()} y={y(lo()) + 0.35 * em()} text-anchor="end">
          {props.format(lo())}
        </text>
      </Show>
      <path class="line" d={line()} />
      <circle class="last" cx={x(t1())} cy={y(props.points[props.points.length - 1]?.v ?? 0)} r={0.22 * em()} />
      <Show when={hhmm(t0()) !== hhmm(t1())}>
        <text class="tick" x={pad().l} y={H() - 0.2 * em()}>
          {hhmm(t0())}
        </text>
      </Show>
      <text class="tick" x={W() - pad().r} y={H() - 0.2 * em()} text-anchor="end">
        {hhmm(t1())}
      </text>
    </svg>
  )
}
