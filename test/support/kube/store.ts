// The fake API server's storage: objects per kind, one global resourceVersion counter that
// every write advances (as etcd's revision does), and the history of changes that watches
// replay from. compact() forgets that history, so a watch from an older resourceVersion gets
// 410 Gone; historyLimit keeps only the most recent changes, as the real watch cache does.
import type { ManagerEntry } from './apply.ts';
import type { KubeObject } from './objects.ts';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Entry {
  obj: KubeObject;
  owners: ManagerEntry[];
}

export interface StoredEvent {
  rv: number;
  type: EventType;
  /** storageKey of the kind. */
  key: string;
  object: KubeObject;
  /** The object before a MODIFIED change: watches with selectors need both sides. */
  previous?: KubeObject;
}

export class ObjectStore {
  readonly #collections = new Map<string, Map<string, Entry>>();
  readonly #listeners = new Set<(ev: StoredEvent) => void>();
  #history: StoredEvent[] = [];
  #rv: number;
  /** Watches must start at or after this resourceVersion. */
  #oldestWatchable: number;
  readonly #historyLimit: number;

  constructor(opts: { initialResourceVersion?: number; historyLimit?: number } = {}) {
    this.#rv = opts.initialResourceVersion ?? 1000;
    this.#oldestWatchable = this.#rv;
    this.#historyLimit = opts.historyLimit ?? 10_000;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  get oldestWatchable(): number {
    return this.#oldestWatchable;
  }

  nextResourceVersion(): number {
    return ++this.#rv;
  }

  #collection(key: string): Map<string, Entry> {
    let c = this.#collections.get(key);
    if (!c) this.#collections.set(key, (c = new Map()));
    return c;
  }

  get(key: string, id: string): Entry | undefined {
    return this.#collections.get(key)?.get(id);
  }

  entries(key: string): Entry[] {
    return [...(this.#collections.get(key)?.values() ?? [])];
  }

  /** Stores the entry under id; the object must already carry its new resourceVersion. */
  put(key: string, id: string, entry: Entry, type: 'ADDED' | 'MODIFIED', previous?: KubeObject): void {
    this.#collection(key).set(id, entry);
    this.#record({
      rv: Number(entry.obj.metadata.resourceVersion),
      type,
      key,
      object: entry.obj,
      ...(previous ? { previous } : {}),
    });
  }

  /** Removes the entry; `last` is its final state, with the deletion's resourceVersion. */
  remove(key: string, id: string, last: KubeObject): void {
    this.#collections.get(key)?.delete(id);
    this.#record({ rv: Number(last.metadata.resourceVersion), type: 'DELETED', key, object: last });
  }

  dropCollection(key: string): void {
    this.#collections.delete(key);
  }

  #record(ev: StoredEvent): void {
    this.#history.push(ev);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#oldestWatchable = Math.max(
        this.#oldestWatchable,
        (dropped[dropped.length - 1] as StoredEvent).rv,
      );
    }
    for (const l of [...this.#listeners]) l(ev);
  }

  /** The changes after rv, or 'expired' when some of them are no longer known. */
  since(rv: number): StoredEvent[] | 'expired' {
    if (rv < this.#oldestWatchable) return 'expired';
    return this.#history.filter((e) => e.rv > rv);
  }

  /**
   * Forgets every change so far: a watch from any resourceVersion handed out until now gets 410.
   * The counter moves on by one so that a fresh list returns a version that can be watched.
   */
  compact(): void {
    this.#history = [];
    this.#oldestWatchable = this.nextResourceVersion();
  }

  subscribe(listener: (ev: StoredEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
