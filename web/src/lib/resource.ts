/**
 * @module How the pages read a resource. Its last value stays while it refetches and after a failed
 * fetch (the page shows the error beside what it has); undefined before the first. Reading it never
 * suspends — a page says "Loading…" in place instead of the route's <Suspense> blanking the view on
 * every refetch — and never throws, as reading a resource in its error state would.
 */
import { type Accessor, createMemo, type Resource } from 'solid-js'

export function createLatest<T>(r: Resource<T>): Accessor<T | undefined> {
  return createMemo<T | undefined>((kept) =>
    r.state === 'ready' || r.state === 'refreshing' ? r.latest : r.state === 'errored' ? kept : undefined
  )
}

/** What a page says about a failed fetch. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))
