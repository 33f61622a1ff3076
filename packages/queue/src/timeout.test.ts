import { describe, expect, it } from '@jest/globals';
import { withTimeout } from './timeout.ts';
import { JobTimeoutError } from './errors/index.ts';

const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));

describe('withTimeout', () => {
  it('passes a result that arrives in time through', async () => {
    await expect(withTimeout(later(5, 'ok'), 200, () => new JobTimeoutError('x', 200))).resolves.toBe('ok');
  });

  it('rejects at the deadline and tells the caller, while the work may still finish later', async () => {
    const ac = new AbortController();
    const slow = later(100, 'late');
    await expect(
      withTimeout(slow, 10, () => {
        const e = new JobTimeoutError('device.batch', 10);
        ac.abort(e);
        return e;
      }),
    ).rejects.toThrow('device.batch did not finish within 10 ms');
    expect(ac.signal.aborted).toBe(true);
    await expect(slow).resolves.toBe('late');
  });

  it('passes a rejection through unchanged', async () => {
    const err = new Error('boom');
    await expect(withTimeout(Promise.reject(err), 100, () => new Error('timeout'))).rejects.toBe(err);
  });
});
