// Worker thread that owns one HiGHS WebAssembly instance. A solve blocks this thread, never the
// service's event loop. After any exception or error status the instance is replaced by a fresh
// one: an aborted HiGHS instance fails every later solve.
import { parentPort } from 'node:worker_threads';
import highsModule, { type Highs } from 'highs';
import { solveWith } from './highs-model.ts';
import type { WorkerRequest, WorkerResponse } from './messages.ts';

// The package's types.d.ts is ESM-shaped but the package is "type": "commonjs", so TypeScript
// types the default import as the module object; Node's ESM import gives the loader itself.
const loadHighs = highsModule as unknown as typeof highsModule.default;

const port = parentPort;
if (!port) throw new Error('highs-worker.ts must run in a worker thread');

let highs: Highs | null = await loadHighs();
port.postMessage({ kind: 'ready' } satisfies WorkerResponse);

port.on('message', async (req: WorkerRequest) => {
  if (req.kind !== 'solve') return;
  try {
    const instance = highs ?? (highs = await loadHighs());
    const solution = solveWith(instance, req.model, {
      timeLimitMs: req.timeLimitMs,
      mipRelGap: req.mipRelGap,
    });
    if (solution.status === 'error') highs = null;
    port.postMessage({ kind: 'result', id: req.id, solution } satisfies WorkerResponse);
  } catch (e) {
    highs = null; // never reuse an instance that threw
    port.postMessage({
      kind: 'failed',
      id: req.id,
      message: (e as Error).message ?? String(e),
    } satisfies WorkerResponse);
  }
});
