/**
 * @module Who may open a live connection: at most LIVE_MAX_CLIENTS in all and
 * LIVE_MAX_CLIENTS_PER_ADDRESS from one client address, counted from admission (before a WebSocket
 * handshake completes or a snapshot is built) until the connection's socket closes, for all three
 * transports — a long poll included, while it is held.
 */
export class Admission {
  private total = 0
  private perAddress = new Map<string, number>()

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAddress: number
  ) {}

  /** A release function (idempotent), or why the connection is refused. */
  admit(address: string): (() => void) | string {
    if (this.total >= this.maxTotal) return `too many live clients (LIVE_MAX_CLIENTS=${this.maxTotal})`
    const n = this.perAddress.get(address) ?? 0
    if (n >= this.maxPerAddress)
      return `too many live clients from one address (LIVE_MAX_CLIENTS_PER_ADDRESS=${this.maxPerAddress})`
    this.perAddress.set(address, n + 1)
    this.total++
    let released = false
    return () => {
      if (released) return
      released = true
      this.total--
      const left = (this.perAddress.get(address) ?? 1) - 1
      if (left > 0) this.perAddress.set(address, left)
      else this.perAddress.delete(address)
    }
  }
}
