// A MipModel as CPLEX LP text, which HiGHS (and most MILP solvers) read: for debugging a plan's
// model outside the service (`highs model.lp`), and as a cross-check of the structured form.
import type { MipModel } from './types.ts';

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.]/g, '_').replace(/^([0-9.])/, '_$1');

function terms(cols: number[], coefs: number[], names: string[]): string {
  const parts: string[] = [];
  cols.forEach((c, k) => {
    const v = coefs[k] as number;
    if (v === 0) return;
    parts.push(`${v < 0 ? '-' : '+'} ${Math.abs(v)} ${names[c]}`);
  });
  const lines: string[] = [];
  for (let i = 0; i < parts.length; i += 8) lines.push(parts.slice(i, i + 8).join(' '));
  return lines.length > 0 ? lines.join('\n   ') : `0 ${names[0] ?? 'x'}`;
}

const num = (x: number) => (x === Infinity ? '+inf' : x === -Infinity ? '-inf' : String(x));

/** The model as LP text. The objective's constant offset is given as a comment (`\ offset`). */
export function mipModelToLp(m: MipModel): string {
  const names = m.colNames.map((n, j) => `${safe(n)}_${j}`);
  const out: string[] = [`\\ offset ${m.offset}`, 'Maximize'];
  const all = m.colCost.map((_, j) => j);
  out.push(` obj: ${terms(all, m.colCost, names)}`, 'Subject To');
  m.rowNames.forEach((rn, i) => {
    const cols = m.rowIndices.slice(m.rowStarts[i], m.rowStarts[i + 1]);
    const vals = m.rowValues.slice(m.rowStarts[i], m.rowStarts[i + 1]);
    const lhs = terms(cols, vals, names);
    const lo = m.rowLower[i] as number;
    const up = m.rowUpper[i] as number;
    const name = `${safe(rn)}_${i}`;
    if (lo === up) out.push(` ${name}: ${lhs} = ${num(up)}`);
    else {
      if (up !== Infinity) out.push(` ${name}_u: ${lhs} <= ${num(up)}`);
      if (lo !== -Infinity) out.push(` ${name}_l: ${lhs} >= ${num(lo)}`);
    }
  });
  out.push('Bounds');
  names.forEach((n, j) => {
    const lo = m.colLower[j] as number;
    const up = m.colUpper[j] as number;
    if (lo === -Infinity && up === Infinity) out.push(` ${n} free`);
    else out.push(` ${num(lo)} <= ${n} <= ${num(up)}`);
  });
  const ints = names.filter((_, j) => m.integer[j]);
  if (ints.length > 0) out.push('General', ...ints.map((n) => ` ${n}`));
  out.push('End', '');
  return out.join('\n');
}
