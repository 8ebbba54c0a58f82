import { Show, type JSX } from 'solid-js'
import { A } from '../lib/router.tsx'
import { useView } from '../lib/view.ts'

/**
 * A real not-found view: a wall screen whose bookmark is wrong says so, plainly and large, instead
 * of drawing an empty page or zeros around it.
 */
export function NotFoundView(props: { what: string; hint?: JSX.Element; back?: { href: string; label: string } }) {
  const view = useView()
  return (
    <div class="not-found" data-testid="not-found" role="alert">
      <p class="nf-head">{props.what}</p>
      <Show when={props.hint}>
        <p class="muted">{props.hint}</p>
      </Show>
      <Show when={!view.prefs.tv() && props.back}>
        <p>
          <A href={props.back!.href}>{props.back!.label}</A>
        </p>
      </Show>
      <Show when={view.prefs.tv()}>
        <p class="muted">
          This screen's address is <code>{location.pathname + location.search}</code>
        </p>
      </Show>
    </div>
  )
}
