// Number formatting for reasons and warnings: fixed, locale-independent ("2,375 kW", "$1.44").

function group(intPart: string): string {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** 12345.6 → "12,346"; keeps `digits` decimals. */
export function num(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return String(x);
  const s = Math.abs(x).toFixed(digits);
  const [i, d] = s.split('.') as [string, string | undefined];
  const neg = x < 0 && Number(s) !== 0 ? '-' : '';
  return `${neg}${group(i)}${d ? `.${d}` : ''}`;
}

/** "2,375 kW", "94.6 kW", "5 kW": one decimal below 100 kW unless whole. */
export function kw(x: number): string {
  const whole = Math.abs(x - Math.round(x)) < 0.05;
  return `${num(x, Math.abs(x) < 100 && !whole ? 1 : 0)} kW`;
}

/** Dollars: cents below $100, whole dollars above. */
export function usd(x: number): string {
  const digits = Math.abs(x) < 100 ? 2 : 0;
  return x < 0 ? `-$${num(-x, digits)}` : `$${num(x, digits)}`;
}

/** "$212/MWh": whole dollars. */
export function usdPerMwh(x: number): string {
  const r = Math.round(x);
  return `${r < 0 ? '-' : ''}$${num(Math.abs(r))}/MWh`;
}

export function isoMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}
