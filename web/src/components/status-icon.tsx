import type { Shown } from '../lib/status.ts'

// Drawn, not font glyphs: a TV browser may lack the symbol fonts. Shapes differ per status, so the
// icon reads without colour.
const PATHS: Record<Shown, string> = {
  passing: 'M5 12.5l4.5 4.5L19 7.5',
  failing: 'M6 6l12 12M18 6L6 18',
  running: 'M12 4a8 8 0 1 1-8 8',
  queued: 'M12 7v5l3 3',
  canceled: 'M6 18L18 6',
  skipped: 'M5 7l6 5-6 5M13 7l6 5-6 5',
  unknown: 'M9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6v.6M12 17.5v.01',
  // An ellipsis in a broken circle: waiting to hear.
  silent: 'M7.5 12h.01M12 12h.01M16.5 12h.01',
}

export function StatusIcon(props: { status: Shown; class?: string }) {
  return (
    <svg
      class={`icon ${props.class ?? ''}`}
      data-icon={props.status}
      viewBox="0 0 24 24"
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      stroke-width="3"
      stroke-linecap="round"
      stroke-linejoin="round"
    >
      {props.status === 'queued' ||
      props.status === 'canceled' ||
      props.status === 'unknown' ||
      props.status === 'silent' ? (
        <circle
          cx="12"
          cy="12"
          r="9"
          stroke-width="2.2"
          stroke-dasharray={props.status === 'silent' ? '4 3' : undefined}
        />
      ) : null}
      <path d={PATHS[props.status]} />
    </svg>
  )
}
