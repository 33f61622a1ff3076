// LuxOS write commands need a session. `logon` opens one (SESSION[0].SessionID, code 316); a
// second logon while one is open fails with 402 "Another session is active", and `session`
// then shows the open one, which we adopt. Sessions expire after about a minute idle, so an id
// unused for SESSION_REUSE_MS is not trusted; a command refused for its session gets one retry
// with a fresh session. `logoff` ends it.
import { MinerError } from '../driver.ts';
import { field, sectionEntries, str } from '../rpc/fields.ts';
import { RpcError, rpcCommand } from '../rpc/rpc-client.ts';
import type { RpcOptions, RpcReply } from '../rpc/rpc-client.ts';

/** LuxOS closes a session after ~60 s idle; reuse ours for at most this long. */
export const SESSION_REUSE_MS = 45_000;
export const LUXOS_LOGON_OK = 316;
export const LUXOS_SESSION_ACTIVE = 402;

/** A rejection caused by a missing, expired or foreign session id. */
export function isSessionError(err: unknown): boolean {
  return (
    err instanceof RpcError &&
    /session/i.test(err.status.msg ?? '') &&
    err.status.code !== LUXOS_SESSION_ACTIVE
  );
}

function isSessionActive(err: unknown): boolean {
  return (
    err instanceof RpcError &&
    (err.status.code === LUXOS_SESSION_ACTIVE || /another session is active/i.test(err.status.msg ?? ''))
  );
}

function sessionIdOf(reply: RpcReply): string | null {
  const s = sectionEntries(reply.body, 'SESSION')[0];
  const id = str(field(s, 'SessionID', 'Session ID', 'sessionid'), 128);
  return id !== null && /^[A-Za-z0-9._-]+$/.test(id) ? id : null;
}

export class LuxosSession {
  private readonly rpc: RpcOptions;
  private readonly now: () => number;
  private sid: string | null = null;
  private lastUsed = 0;

  constructor(rpc: RpcOptions, now: () => number = Date.now) {
    this.rpc = rpc;
    this.now = now;
  }

  get id(): string | null {
    return this.sid;
  }

  /** A session id believed valid: ours if recently used, else a new or adopted one. */
  async acquire(): Promise<string> {
    if (this.sid !== null && this.now() - this.lastUsed < SESSION_REUSE_MS) return this.sid;
    this.sid = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const reply = await rpcCommand(this.rpc, 'logon');
        const id = sessionIdOf(reply);
        if (id === null) throw new MinerError('protocol', this.rpc.host, 'logon reply has no SessionID');
        return this.adopt(id);
      } catch (err) {
        if (!isSessionActive(err)) throw err;
      }
      // Another session is open: `session` shows its id, which any client may use.
      const current = sessionIdOf(await rpcCommand(this.rpc, 'session'));
      if (current !== null) return this.adopt(current);
      // It expired between the two calls: log on again.
    }
    throw new MinerError(
      'rejected',
      this.rpc.host,
      'another LuxOS session is active; retry after it expires (~60 s)',
    );
  }

  private adopt(id: string): string {
    this.sid = id;
    this.lastUsed = this.now();
    return id;
  }

  /** Marks the session as just used (the firmware's idle timer restarted). */
  touch(): void {
    if (this.sid !== null) this.lastUsed = this.now();
  }

  invalidate(): void {
    this.sid = null;
  }

  /**
   * Runs a session command: `<sid>,<args...>` as the parameter. A rejection for the session
   * (expired, replaced) is retried once with a fresh one.
   */
  async command(command: string, args: readonly string[] = []): Promise<RpcReply> {
    for (let attempt = 0; ; attempt++) {
      const sid = await this.acquire();
      try {
        const reply = await rpcCommand(this.rpc, command, [sid, ...args].join(','));
        this.touch();
        return reply;
      } catch (err) {
        if (attempt === 0 && isSessionError(err)) {
          this.invalidate();
          continue;
        }
        throw err;
      }
    }
  }

  /** Ends our session, if we hold one. Never throws. */
  async logoff(): Promise<void> {
    const sid = this.sid;
    this.sid = null;
    if (sid === null) return;
    try {
      await rpcCommand(this.rpc, 'logoff', sid);
    } catch {
      // Expired already, or the miner is gone: either way the session is over for us.
    }
  }
}
