import { describe, expect, it } from 'vitest'
import { metricLevel } from './metric-level.ts'

describe('metricLevel', () => {
  it('has no opinion without thresholds', () => {
    expect(metricLevel(5)).toBeNull()
    expect(metricLevel(5, null, undefined)).toBeNull()
  })
  it('reads higher as worse when warn is below crit (error rate)', () => {
    expect(metricLevel(0.5, 1, 5)).toBe('ok')
    expect(metricLevel(1, 1, 5)).toBe('warn')
    expect(metricLevel(7, 1, 5)).toBe('crit')
  })
  it('reads lower as worse when warn is above crit (free disk)', () => {
    expect(metricLevel(40, 20, 10)).toBe('ok')
    expect(metricLevel(15, 20, 10)).toBe('warn')
    expect(metricLevel(3, 20, 10)).toBe('crit')
  })
  it('takes a single threshold as an upper bound', () => {
    expect(metricLevel(9, undefined, 10)).toBe('ok')
    expect(metricLevel(11, undefined, 10)).toBe('crit')
    expect(metricLevel(11, 10)).toBe('warn')
  })
})
