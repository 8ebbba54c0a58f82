/**
 * @module Which events a client asked for (`?topics=builds,visitors`): a topic matches an event type
 * equal to it or the family before its dot (`build` matches `build.finished`).
 */

/** `null` = every topic. */
export type Topics = ReadonlySet<string> | null

export function parseTopics(param: string | null | undefined): Topics {
  if (!param) return null
  const set = new Set<string>()
  for (const t of param.split(',')) {
    const s = t.trim().toLowerCase()
    if (!s) continue
    set.add(s)
    // `builds` and `build` both mean the build.* events; `metrics` → metric.
    if (s.endsWith('s')) set.add(s.slice(0, -1))
  }
  return set.size ? set : null
}

export function matches(topics: Topics, type: string): boolean {
  if (!topics) return true
  if (topics.has(type)) return true
  const dot = type.indexOf('.')
  return dot > 0 && topics.has(type.slice(0, dot))
}
