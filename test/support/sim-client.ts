// The simulator's control API from tests: GET without a body, POST JSON with one; a non-2xx
// answer throws with its status and body. And the simulator as a process for such tests.
import { spawnSwitchyard, type ManagedProcess } from './processes.ts';
export function simClient(baseUrl: () => string) {
  return async <T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${baseUrl()}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body !== undefined && {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };
}

/**
 * `switchyard sim` on a farm file as its own process, its miners quick to move (1 s to sleep or
 * to change profile, 2 s to wake); resolves with the process and its control API's URL.
 */
export async function spawnQuickSim(
  farmFile: string,
  opts: { portOffset: number; env?: Record<string, string>; extraArgs?: string[] },
): Promise<{ process: ManagedProcess; url: string }> {
  const p = spawnSwitchyard(
    [
      'sim',
      '--farm',
      farmFile,
      '--http-port',
      '0',
      ...(opts.extraArgs ?? []),
      '--sleep-seconds',
      '1',
      '--wake-seconds',
      '2',
      '--retune-seconds',
      '1',
      '--port-offset',
      String(opts.portOffset),
    ],
    { name: 'sim', env: opts.env ?? { LOG_LEVEL: 'warn' } },
  );
  const line = await p.waitForLine(/control API (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
  return { process: p, url: /control API (http:\/\/127\.0\.0\.1:\d+)/.exec(line.text)?.[1] as string };
}
