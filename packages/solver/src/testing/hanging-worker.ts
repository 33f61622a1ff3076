// A stand-in worker for tests: reports ready, then never answers (a solve stuck in native code).
import { parentPort } from 'node:worker_threads';

parentPort?.postMessage({ kind: 'ready' });
parentPort?.on('message', () => {
  // Busy forever, as a runaway WebAssembly solve would be.
  for (;;);
});
