// The webhook.deliver job: sends one delivery (one event to one webhook) as a signed POST.
//
// The job carries only the delivery's id; the URL, the event and the signing secret are read from
// the database. A delivery that is no longer pending is skipped; one whose webhook was deleted is
// marked failed without being sent. The body is the envelope `{ id, event, at, data }`, signed
// with the Standard Webhooks scheme (signing.ts). The answer decides what happens next:
//
//   2xx                               delivered
//   3xx, and 4xx but 408 and 429      failed for good (UnrecoverableError): redirects are not
//                                     followed, and the receiver refused the request itself
//   408, 429, 5xx, network, timeout   tried again with the catalog's exponential backoff; failed
//                                     once the last attempt fails
//   a URL the target policy refuses   failed for good
//
// Every attempt is recorded on the delivery (attempts, lastStatus, lastError). Errors name the
// status or the network error code, never the URL (which may hold a token) nor the secret.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { WebhookRepository, type Database, type DeliveryRecord } from '@switchyard/db';
import { JOB_CATALOG, UnrecoverableError, type JobContext, type JobHandler } from '@switchyard/queue';
import { WEBHOOK_USER_AGENT, webhookSignatureHeaders } from './signing.ts';
import { WebhookTargetError, checkWebhookUrl, guardedLookup, type WebhookTargetPolicy } from './targets.ts';

/** How long one POST may take, connection to response headers (the job's own timeout is 15 s). */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;
/** Response bytes read at most; the answer's body is not used. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** The JSON body of a delivery, exactly as signed and sent. */
export function deliveryBody(d: Pick<DeliveryRecord, 'eventId' | 'event' | 'createdAt' | 'payload'>): string {
  return JSON.stringify({ id: d.eventId, event: d.event, at: d.createdAt.toISOString(), data: d.payload });
}

export interface DeliveryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface WebhookDeliveryOptions {
  db: Database;
  /** Which hosts webhooks may reach (targets.ts); by default public https hosts only. */
  targets?: WebhookTargetPolicy | undefined;
  /** Per-attempt HTTP timeout (default 10 s). */
  timeoutMs?: number | undefined;
  /** The clock, for webhook-timestamp (tests). */
  now?: () => number;
  logger?: DeliveryLogger | undefined;
}

/** What a finished job returns. */
export interface DeliveryResult {
  status: 'delivered' | 'skipped';
  deliveryId: string;
  /** The delivery's state (skipped: the state it already had). */
  state: string;
  httpStatus?: number;
  attempt?: number;
}

/** One attempt's failure: the message recorded as lastError, and whether to try again. */
class AttemptError extends Error {
  readonly permanent: boolean;
  readonly status: number | null;
  constructor(message: string, permanent: boolean, status: number | null = null) {
    super(message);
    this.permanent = permanent;
    this.status = status;
  }
}

/** 2xx delivers; 408, 429 and 5xx are worth retrying; anything else is the receiver's final word. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function networkError(e: unknown, timedOut: boolean, timeoutMs: number): AttemptError {
  if (e instanceof WebhookTargetError) return new AttemptError(`refused: ${e.message}`, true);
  if (timedOut) return new AttemptError(`timed out after ${timeoutMs} ms`, false);
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const name = (e as Error | undefined)?.name;
  if (name === 'AbortError') return new AttemptError('aborted: the worker stopped the attempt', false);
  return new AttemptError(`request failed: ${typeof code === 'string' ? code : 'network error'}`, false);
}

interface PostOptions {
  url: URL;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal: AbortSignal;
  targets: WebhookTargetPolicy;
}

/** POSTs the body and resolves with the status code once the response headers arrive. */
function post(o: PostOptions): Promise<number> {
  const timeout = AbortSignal.timeout(o.timeoutMs);
  const signal = AbortSignal.any([o.signal, timeout]);
  const options: RequestOptions = {
    method: 'POST',
    headers: { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) },
    // A fresh connection per delivery: nothing is pooled across brokers, and none lingers.
    agent: false,
    lookup: guardedLookup(o.targets) as RequestOptions['lookup'],
    signal,
  };
  return new Promise<number>((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > MAX_RESPONSE_BYTES) res.destroy();
      });
      res.on('error', () => undefined);
      resolve(res.statusCode ?? 0);
    };
    const req =
      o.url.protocol === 'https:'
        ? httpsRequest(o.url, options, onResponse)
        : httpRequest(o.url, options, onResponse);
    req.on('error', (e) => reject(networkError(e, timeout.aborted, o.timeoutMs)));
    req.end(o.body);
  });
}

/** Whether this is the job's last attempt (its options may shorten the catalog's count). */
function isLastAttempt(ctx: JobContext): boolean {
  const attempts = ctx.job.opts.attempts ?? JOB_CATALOG['webhook.deliver'].attempts;
  return ctx.attempt >= attempts;
}

/** The webhook.deliver handler, for the worker harness. */
export function createWebhookDeliverHandler(opts: WebhookDeliveryOptions): JobHandler<'webhook.deliver'> {
  const repo = new WebhookRepository(opts.db);
  const targets = opts.targets ?? {};
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
  const now = opts.now ?? Date.now;

  return async (payload, ctx): Promise<DeliveryResult> => {
    const id = payload.deliveryId;
    const target = await repo.deliveryTarget(id);
    if (!target) throw new UnrecoverableError(`webhook delivery ${id} does not exist`);
    const { delivery, webhook } = target;
    if (delivery.state !== 'pending') return { status: 'skipped', deliveryId: id, state: delivery.state };
    if (webhook.deletedAt) {
      await repo.settle(id, { state: 'failed', attempted: false, error: 'the webhook was deleted' });
      throw new UnrecoverableError(`webhook ${webhook.id} was deleted: delivery ${id} is not sent`);
    }

    const attempt = ctx.attempt;
    const last = isLastAttempt(ctx);
    const fail = async (err: AttemptError): Promise<never> => {
      const final = err.permanent || last;
      await repo.settle(id, {
        state: final ? 'failed' : 'pending',
        attempted: true,
        status: err.status,
        error: err.message,
      });
      opts.logger?.warn(
        { deliveryId: id, webhookId: webhook.id, attempt, status: err.status, final, error: err.message },
        'webhook delivery attempt failed',
      );
      if (err.permanent) throw new UnrecoverableError(`webhook delivery ${id}: ${err.message}`);
      throw new Error(`webhook delivery ${id}: ${err.message}`);
    };

    const checked = checkWebhookUrl(webhook.url, targets);
    if (!checked.ok) return fail(new AttemptError(`refused: the URL ${checked.reason}`, true));
    const body = deliveryBody(delivery);
    const headers = {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      ...webhookSignatureHeaders(webhook.secret, delivery.id, body, Math.floor(now() / 1000)),
    };

    let status: number;
    try {
      status = await post({ url: checked.url, headers, body, timeoutMs, signal: ctx.signal, targets });
    } catch (e) {
      return fail(e instanceof AttemptError ? e : networkError(e, false, timeoutMs));
    }
    if (status >= 200 && status < 300) {
      await repo.settle(id, { state: 'delivered', attempted: true, status, error: null });
      opts.logger?.info(
        { deliveryId: id, webhookId: webhook.id, event: delivery.event, attempt, status },
        'webhook delivered',
      );
      return { status: 'delivered', deliveryId: id, state: 'delivered', httpStatus: status, attempt };
    }
    const what = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
    return fail(new AttemptError(`HTTP ${status}${what}`, !isRetryableStatus(status), status));
  };
}
