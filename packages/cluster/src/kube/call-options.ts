// Per-call options for @kubernetes/client-node 2.x: a deadline or the caller's AbortSignal, and
// the Content-Type of a patch. The generated client sends every PATCH as
// application/json-patch+json unless told otherwise, and has no timeout of its own, so a call
// to a stalled API server would wait forever.
import {
  Observable,
  type ConfigurationOptions,
  type PatchStrategy,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';

export interface KubeCallOptions {
  /** Abort the request when this fires. */
  signal?: AbortSignal | undefined;
  /** Abort the request after this long. */
  timeoutMs?: number | undefined;
  /** The patch's Content-Type (PatchStrategy.MergePatch, ...). */
  patch?: PatchStrategy | undefined;
}

export function callOptions(opts: KubeCallOptions): ConfigurationOptions {
  const signals = [
    ...(opts.signal ? [opts.signal] : []),
    ...(opts.timeoutMs !== undefined ? [AbortSignal.timeout(opts.timeoutMs)] : []),
  ];
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          if (signal) ctx.setSignal(signal);
          if (opts.patch) ctx.setHeaderParam('Content-Type', opts.patch);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
