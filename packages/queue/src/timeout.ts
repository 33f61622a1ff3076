// Races a promise against a deadline. BullMQ 5+ has no per-job timeout, so the harness enforces
// the catalog's: the attempt fails (and is retried) while the handler is told to stop through
// its AbortSignal; work already in flight is bounded by each driver call's own timeout.
export function withTimeout<T>(run: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expire = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([run, expire]).finally(() => clearTimeout(timer));
}
