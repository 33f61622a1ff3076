// An InferenceOrder: a compute order placed in the cluster, as a namespaced custom resource, in
// the shape and with the bounds of a broker's order through the API (POST /api/v1/orders, a bid).
// Its status follows the order through the same states as a broker's.
import { z } from 'zod';
import { ORDER_TIERS } from '../planner/types.ts';
import { resourceName } from './resource-schema.ts';
import { conditionsSchema, timestampSchema } from './status-schema.ts';

/** The bounds of a broker's order (services/api/src/schemas/orders.ts); a test keeps them equal. */
export const ORDER_BOUNDS = {
  maxGpuModels: 16,
  maxGpuCount: 4096,
  maxVramGiB: 1024,
  minOrderSeconds: 60,
  maxOrderSeconds: 90 * 86_400,
  maxUsdPerGpuHour: 10_000,
  maxNoticeSeconds: 86_400,
  minOnDemandNoticeSeconds: 60,
  maxImageLength: 512,
  maxArgs: 64,
  maxArgLength: 1024,
} as const;

export const ORDER_GPU_MODEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$';
/** An OCI image reference: [registry[:port]/]path[:tag][@digest] (docker/distribution's grammar). */
export const ORDER_IMAGE_PATTERN =
  '^(?:[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?' +
  '(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,128})?$';

/** An order's states, as a broker's order goes through them. */
export const INFERENCE_ORDER_STATES = [
  'pending',
  'admitted',
  'running',
  'preempting',
  'completed',
  'preempted',
  'cancelled',
  'failed',
] as const;
export type InferenceOrderState = (typeof INFERENCE_ORDER_STATES)[number];

const B = ORDER_BOUNDS;
const ON_DEMAND_NOTICE_RULE = `self.tier != 'on-demand' || !has(self.noticeSeconds) || self.noticeSeconds >= ${B.minOnDemandNoticeSeconds}`;

export const inferenceOrderSpecSchema = z
  .strictObject({
    /** Acceptable GPU models (GpuPool.spec.gpuModel, compared without case); any will do. */
    gpuModels: z
      .array(z.string().min(1).max(64).regex(new RegExp(ORDER_GPU_MODEL_PATTERN)))
      .min(1)
      .max(B.maxGpuModels)
      .refine((m) => new Set(m).size === m.length, 'GPU models must be distinct')
      .meta({ 'x-kubernetes-list-type': 'set' }),
    gpuCount: z.number().int().min(1).max(B.maxGpuCount),
    /** Least VRAM per GPU, GiB. */
    minVramGiB: z.number().int().min(0).max(B.maxVramGiB).default(0),
    /** How long it runs once started. Exactly one of this and endBy. */
    durationSeconds: z.number().int().min(B.minOrderSeconds).max(B.maxOrderSeconds).optional(),
    /** When it must be over (60 s to 90 days ahead, checked when it is taken). */
    endBy: timestampSchema.optional(),
    tier: z.enum(ORDER_TIERS),
    /** The most paid, USD per GPU-hour. */
    maxUsdPerGpuHour: z.number().min(0).max(B.maxUsdPerGpuHour),
    /** Warning wanted before a preemption (default by tier: 3600, 900, 120); on-demand: at least 60. */
    noticeSeconds: z.number().int().min(0).max(B.maxNoticeSeconds).optional(),
    image: z.string().min(1).max(B.maxImageLength).regex(new RegExp(ORDER_IMAGE_PATTERN)),
    args: z.array(z.string().max(B.maxArgLength)).max(B.maxArgs).optional(),
  })
  .superRefine((spec, ctx) => {
    if ((spec.durationSeconds === undefined) === (spec.endBy === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['durationSeconds'],
        message: 'exactly one of durationSeconds and endBy',
      });
    if (
      spec.tier === 'on-demand' &&
      spec.noticeSeconds !== undefined &&
      spec.noticeSeconds < B.minOnDemandNoticeSeconds
    )
      ctx.addIssue({
        code: 'custom',
        path: ['noticeSeconds'],
        message: `on-demand orders need at least ${B.minOnDemandNoticeSeconds} s of notice`,
      });
  })
  // The same two rules for the API server: oneOf on presence, and a CEL rule.
  .meta({
    oneOf: [{ required: ['durationSeconds'] }, { required: ['endBy'] }],
    'x-kubernetes-validations': [
      {
        rule: ON_DEMAND_NOTICE_RULE,
        message: `on-demand orders need at least ${B.minOnDemandNoticeSeconds} s of notice`,
        fieldPath: '.noticeSeconds',
        reason: 'FieldValueInvalid',
      },
    ],
  });
export type InferenceOrderSpec = z.infer<typeof inferenceOrderSpecSchema>;

export const inferenceOrderStatusSchema = z.strictObject({
  observedGeneration: z.number().int().min(0).optional(),
  conditions: conditionsSchema.optional(),
  state: z.enum(INFERENCE_ORDER_STATES).optional(),
  /** The order's id in Switchyard's order book. */
  orderId: z.string().min(1).max(64).optional(),
  /** The GpuPool it was placed on. */
  pool: resourceName.optional(),
  startedAt: timestampSchema.optional(),
  endedAt: timestampSchema.optional(),
  /** When it will be taken back, while preempting. */
  preemptAt: timestampSchema.optional(),
});
export type InferenceOrderStatus = z.infer<typeof inferenceOrderStatusSchema>;
