/**
 * @module Control messages (an admin's identify, reload, show) held for a screen that has no open
 * connection — a long-polling screen between two polls, a screen reconnecting — until it connects.
 */
import type { ControlFrame } from './frame.ts'

/** How long a control message waits for a screen that has no open connection. */
const CONTROL_HOLD_MS = 60_000
/** Held per credential (the newest), and credentials held for (the oldest go first). */
const MAX_PER_PRINCIPAL = 10
const MAX_PRINCIPALS = 1000

export class HeldControls {
  private held = new Map<string, { frame: ControlFrame; until: number }[]>()

  constructor(private now: () => number) {}

  hold(principal: string, frame: ControlFrame): void {
    const now = this.now()
    const list = (this.held.get(principal) ?? []).filter((h) => h.until > now)
    list.push({ frame, until: now + CONTROL_HOLD_MS })
    this.held.set(principal, list.slice(-MAX_PER_PRINCIPAL))
    if (this.held.size > MAX_PRINCIPALS) this.held.delete(this.held.keys().next().value!)
  }

  /** What is held for a credential, once. */
  take(principal: string | null): ControlFrame[] {
    if (!principal) return []
    const list = this.held.get(principal)
    if (!list) return []
    this.held.delete(principal)
    const now = this.now()
    return list.filter((h) => h.until > now).map((h) => h.frame)
  }
}
