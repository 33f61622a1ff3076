// Messages between HighsSolver and its worker thread.
import type { MipModel, MipSolution } from '@switchyard/domain';

export type WorkerRequest = {
  kind: 'solve';
  id: number;
  model: MipModel;
  timeLimitMs: number;
  mipRelGap?: number | undefined;
};

export type WorkerResponse =
  | { kind: 'ready' }
  | { kind: 'result'; id: number; solution: MipSolution }
  | { kind: 'failed'; id: number; message: string };
