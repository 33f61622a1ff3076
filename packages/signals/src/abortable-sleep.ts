// A sleep that ends early (rejecting) when its signal aborts, so a shutdown or a timeout never
// waits out a backoff or a rate-limit pause.
import { setTimeout as delay } from 'node:timers/promises';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const abortableSleep: Sleep = async (ms, signal) => {
  await delay(Math.max(0, ms), undefined, signal ? { signal } : undefined);
};
