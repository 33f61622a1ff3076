import { describe, expect, it } from '@jest/globals';
import type { GpuNodeState } from './driver.ts';
import { isSettledNode, selectPoolNodes } from './select.ts';

const node = (name: string, over: Partial<GpuNodeState> = {}): GpuNodeState => ({
  pool: 'h100-a',
  node: name,
  mode: 'idle',
  powerKw: 1.6,
  gpuModel: 'H100-SXM-80GB',
  gpus: 8,
  ready: true,
  transitioning: false,
  transitionRemainingS: 0,
  ...over,
});

describe('selectPoolNodes', () => {
  it('picks count nodes of the pool in fromMode, sorted by name (numerically)', () => {
    const nodes = [
      node('h100-a-node-10'),
      node('h100-a-node-2'),
      node('h100-a-node-1', { mode: 'serving' }),
      node('h100-a-node-3'),
      node('h200-b-node-0', { pool: 'h200-b' }),
    ];
    const sel = selectPoolNodes(nodes, { pool: 'h100-a', fromMode: 'idle', count: 2 });
    expect(sel.nodes.map((n) => n.node)).toEqual(['h100-a-node-2', 'h100-a-node-3']);
    expect(sel.missing).toBe(0);
    // the same input in another order gives the same choice
    expect(
      selectPoolNodes([...nodes].reverse(), { pool: 'h100-a', fromMode: 'idle', count: 2 }).nodes.map(
        (n) => n.node,
      ),
    ).toEqual(['h100-a-node-2', 'h100-a-node-3']);
  });

  it('never picks a node in an unknown state, nor one already taken, and counts what is missing', () => {
    const nodes = [
      node('n-0', { ready: false }),
      node('n-1', { mode: null }),
      node('n-2', { transitioning: true, transitionRemainingS: 4 }),
      node('n-3'),
      node('n-4'),
    ];
    const sel = selectPoolNodes(nodes, { pool: 'h100-a', fromMode: 'idle', count: 4 }, new Set(['n-3']));
    expect(sel.nodes.map((n) => n.node)).toEqual(['n-4']);
    expect(sel.missing).toBe(3);
  });

  it('asks for nothing on a zero or nonsense count', () => {
    expect(selectPoolNodes([node('n-0')], { pool: 'h100-a', fromMode: 'idle', count: 0 })).toEqual({
      nodes: [],
      missing: 0,
    });
    expect(selectPoolNodes([node('n-0')], { pool: 'h100-a', fromMode: 'idle', count: NaN }).missing).toBe(0);
  });
});

describe('isSettledNode', () => {
  it('is true only for a ready node with a known mode that is not transitioning', () => {
    expect(isSettledNode(node('a'))).toBe(true);
    expect(isSettledNode(node('a', { ready: false }))).toBe(false);
    expect(isSettledNode(node('a', { mode: null }))).toBe(false);
    expect(isSettledNode(node('a', { transitioning: true }))).toBe(false);
  });
});
