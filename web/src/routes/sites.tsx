import { Match, Switch, createMemo } from 'solid-js'
import { PagedGrid } from '../components/paged-grid.tsx'
import { SiteCard } from '../components/site-parts.tsx'
import { useLive } from '../lib/live.ts'
import type { SiteLive } from '../live/sites.ts'
import { useView } from '../lib/view.ts'

export default function Sites() {
  const live = useLive()
  const view = useView()
  const sites = createMemo(() => {
    const map = live.state.sites
    if (!map) return null
    return (
      Object.values(map)
        .filter((s): s is SiteLive => !!s)
        // SITES order, then by domain: a card never swaps places because its figures changed.
        .sort((a, b) => a.order - b.order || a.site.localeCompare(b.site))
    )
  })
  return (
    <section class="sites" aria-label="Sites">
      <Switch>
        <Match when={!live.version()}>
          <p class="empty">Connecting…</p>
        </Match>
        <Match when={!sites()?.length}>
          <div class="empty" data-testid="empty">
            <p>No sites yet.</p>
            <p class="muted">
              Add <code>SITES=shop.example.com</code> to the server and this line to each site:{' '}
              <code>{`<script defer src="${location.origin}/beacon.js" data-site="shop.example.com"></script>`}</code>
            </p>
          </div>
        </Match>
        <Match when={true}>
          <PagedGrid items={sites()!} class="site-grid" maxCells={6} label="Sites">
            {(s) => <SiteCard site={s} now={view.now()} deploys={live.deploysOf(s.site)} tv={view.prefs.tv()} />}
          </PagedGrid>
        </Match>
      </Switch>
    </section>
  )
}
