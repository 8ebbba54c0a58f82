import { describe, expect, it } from 'vitest'
import { sipHashBytes, sipHashText, sipKey } from './siphash.ts'

// The reference vectors of the SipHash paper (appendix A and the reference implementation's
// vectors.h): key 00 01 … 0f, message 00 01 … (n-1), the 64-bit result as a number in hex.
const KEY = sipKey(Uint8Array.from({ length: 16 }, (_, i) => i))
const msg = (n: number) => Uint8Array.from({ length: n }, (_, i) => i)

describe('SipHash-2-4', () => {
  it.each([
    [0, '726fdb47dd0e0e31'],
    [1, '74f839c593dc67fd'],
    [7, 'ab0200f58b01d137'],
    [8, '93f5f5799a932462'],
    [15, 'a129ca6149be45e5'],
    [16, '3f2acc7f57c29bdb'],
    [63, '958a324ceb064572'],
  ])('matches the reference vector for a %i-byte message', (n, expected) => {
    expect(sipHashBytes(KEY, msg(n))).toBe(expected)
  })

  it('hashes text as its UTF-8 bytes, long or short', () => {
    const text = `héllo ✓ ${'x'.repeat(5000)}`
    expect(sipHashText(KEY, text)).toBe(sipHashBytes(KEY, new TextEncoder().encode(text)))
    expect(sipHashText(KEY, '')).toBe('726fdb47dd0e0e31')
  })

  it('depends on every key bit', () => {
    const other = sipKey(Uint8Array.from({ length: 16 }, (_, i) => (i === 15 ? 0x8f : i)))
    expect(sipHashText(other, 'a')).not.toBe(sipHashText(KEY, 'a'))
  })

  it('refuses a key that is not 16 bytes', () => {
    expect(() => sipKey(new Uint8Array(8))).toThrow(/16 bytes/)
  })
})
