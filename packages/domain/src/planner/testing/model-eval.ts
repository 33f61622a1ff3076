// Evaluates a MipModel at a point: objective and the rows or bounds it breaks. For tests.
import type { MipModel } from '../types.ts';

export function evaluateModel(
  m: MipModel,
  x: readonly number[],
  tol = 1e-6,
): { objective: number; broken: string[] } {
  const broken: string[] = [];
  let objective = m.offset;
  m.colCost.forEach((c, j) => {
    const v = x[j] ?? NaN;
    objective += c * v;
    const lo = m.colLower[j] as number;
    const up = m.colUpper[j] as number;
    if (v < lo - tol || v > up + tol) broken.push(`column ${m.colNames[j]} = ${v} outside [${lo}, ${up}]`);
    if (m.integer[j] && Math.abs(v - Math.round(v)) > tol)
      broken.push(`column ${m.colNames[j]} = ${v} not integer`);
  });
  for (let i = 0; i < m.rowNames.length; i++) {
    let a = 0;
    for (let k = m.rowStarts[i] as number; k < (m.rowStarts[i + 1] as number); k++)
      a += (m.rowValues[k] as number) * (x[m.rowIndices[k] as number] as number);
    const lo = m.rowLower[i] as number;
    const up = m.rowUpper[i] as number;
    const scale =
      tol *
      Math.max(1, Math.abs(lo) === Infinity ? 0 : Math.abs(lo), Math.abs(up) === Infinity ? 0 : Math.abs(up));
    if (a < lo - scale || a > up + scale) broken.push(`row ${m.rowNames[i]} = ${a} outside [${lo}, ${up}]`);
  }
  return { objective, broken };
}
