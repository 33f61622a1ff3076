// A real webhook receiver for tests: a node:http server on 127.0.0.1 that keeps each request's
// raw body and headers, checks the signature against the raw body as a broker's receiver would,
// and answers with scripted statuses (then 200), or not at all.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature, type WebhookVerification } from '@switchyard/brokers';

export interface ReceivedWebhook {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: Buffer;
  /** The envelope, parsed after the signature was checked. */
  body: { id: string; event: string; at: string; data: Record<string, unknown> };
  /** The verdict with the receiver's secret (none set: not checked). */
  verification: WebhookVerification | null;
  receivedAt: number;
}

export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  /** Statuses to answer, in order; 200 once they are used up. */
  script: number[];
  /** The secret to verify with (set after the webhook is registered). */
  secret: string | null;
  /** Never answer (a timeout). */
  hang: boolean;
  /** Resolves once `n` requests have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startReceiver(opts: { script?: number[]; secret?: string } = {}): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        raw,
        body: JSON.parse(raw.toString('utf8')) as ReceivedWebhook['body'],
        verification: receiver.secret ? verifyWebhookSignature(receiver.secret, req.headers, raw, 300) : null,
        receivedAt: Date.now(),
      });
      if (receiver.hang) return;
      const status = receiver.script.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks/switchyard?token=t0k3n`,
    received,
    script: [...(opts.script ?? [])],
    secret: opts.secret ?? null,
    hang: false,
    async waitFor(n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline)
          throw new Error(`the receiver got ${received.length} of ${n} requests in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return received.slice(0, n);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
