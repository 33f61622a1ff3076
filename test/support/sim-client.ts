// The simulator's control API from tests: GET without a body, POST JSON with one; a non-2xx
// answer throws with its status and body.
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
