import { For, Show } from 'solid-js'
import type { Toast } from '../lib/alerts.ts'
import type { Shown } from '../lib/status.ts'
import { A } from '../lib/router.tsx'
import { StatusIcon } from './status-icon.tsx'

const ICON: Record<string, Shown> = {
  broken: 'failing',
  still_failing: 'failing',
  fixed: 'passing',
  passed: 'passing',
  canceled: 'canceled',
  skipped: 'skipped',
}

export function Toasts(props: { toasts: Toast[]; dismiss(id: number): void; tv: boolean }) {
  return (
    <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
      <For each={props.toasts}>
        {(t) => (
          <div class="toast" data-transition={t.transition} data-testid="toast">
            <StatusIcon status={ICON[t.transition] ?? 'unknown'} />
            <div class="toast-text">
              <Show when={!props.tv} fallback={<strong>{t.title}</strong>}>
                <A href={t.href}>
                  <strong>{t.title}</strong>
                </A>
              </Show>
              <Show when={t.body}>
                <span class="toast-body">{t.body}</span>
              </Show>
            </div>
            <Show when={!props.tv}>
              <button type="button" class="close" aria-label="Dismiss" onClick={() => props.dismiss(t.id)}>
                ×
              </button>
            </Show>
          </div>
        )}
      </For>
    </div>
  )
}
