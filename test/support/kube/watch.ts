// One open watch: a chunked HTTP response of JSON lines {"type", "object"}, fed from the store's
// history (from the requested resourceVersion) and then from its live changes. With a label or
// field selector, an object that starts matching arrives as ADDED and one that stops matching
// as DELETED, as the real server does. A paused watch holds its events until resumed.
import type { ServerResponse } from 'node:http';
import { storageKey, type ResourceKind } from './kinds.ts';
import type { KubeObject } from './objects.ts';
import type { ObjectPredicate } from './selectors.ts';
import type { KubeStatus } from './status.ts';
import type { EventType, StoredEvent } from './store.ts';

export type WatchEventType = EventType | 'BOOKMARK' | 'ERROR';

export interface WatchSpec {
  kind: ResourceKind;
  namespace: string | undefined;
  match: ObjectPredicate;
  /** The client's user (its bearer token), for pause filters and dropWatches. */
  user: string | undefined;
  path: string;
}

export class WatchStream {
  readonly spec: WatchSpec;
  readonly #res: ServerResponse;
  readonly #view: (obj: KubeObject) => KubeObject;
  #held: string[] | undefined;
  #closed = false;
  readonly #onClose: Array<() => void> = [];

  constructor(spec: WatchSpec, res: ServerResponse, view: (obj: KubeObject) => KubeObject) {
    this.spec = spec;
    this.#res = res;
    this.#view = view;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    res.on('close', () => this.#finish());
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(fn: () => void): void {
    this.#onClose.push(fn);
  }

  /** The watch's view of a stored change, after its namespace and selectors; null: not for it. */
  translate(ev: StoredEvent): { type: EventType; object: KubeObject } | null {
    if (ev.key !== storageKey(this.spec.kind)) return null;
    if (this.spec.namespace && ev.object.metadata.namespace !== this.spec.namespace) return null;
    const now = this.spec.match(ev.object);
    if (ev.type !== 'MODIFIED') return now ? { type: ev.type, object: ev.object } : null;
    const before = ev.previous ? this.spec.match(ev.previous) : now;
    if (now && before) return { type: 'MODIFIED', object: ev.object };
    if (now) return { type: 'ADDED', object: ev.object };
    if (before) return { type: 'DELETED', object: ev.object };
    return null;
  }

  deliver(ev: StoredEvent): void {
    const t = this.translate(ev);
    if (t) this.send(t.type, this.#view(t.object));
  }

  send(type: WatchEventType, object: KubeObject | KubeStatus): void {
    if (this.#closed) return;
    const line = `${JSON.stringify({ type, object })}\n`;
    if (this.#held) this.#held.push(line);
    else this.#res.write(line);
  }

  /** Holds events (a stalled connection) until resume(). */
  hold(): void {
    this.#held ??= [];
  }

  resume(): void {
    const held = this.#held;
    this.#held = undefined;
    if (!this.#closed) for (const line of held ?? []) this.#res.write(line);
  }

  /** Ends the response cleanly (the client sees the stream close), or resets the connection. */
  end(abrupt = false): void {
    if (this.#closed) return;
    if (abrupt) this.#res.socket?.destroy();
    else this.#res.end();
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#onClose.splice(0)) fn();
  }
}
