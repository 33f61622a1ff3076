// Small deterministic random numbers: a 32-bit string hash (FNV-1a with a final avalanche) to
// seed a per-miner generator (mulberry32). Same seed and host → same miner, run after run.

export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** A 32-bit integer avalanche (murmur3's finaliser). */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) from a 32-bit integer. */
export function unit(x: number): number {
  return (x >>> 0) / 4294967296;
}

/** A deterministic number in [0, 1) for (seed, key): stateless, for choices like fault fractions. */
export function hashUnit(seed: string | number, key: string): number {
  return unit(hash32(`${seed}\u0000${key}`));
}

/** mulberry32: tiny, fast, good enough for noise. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
