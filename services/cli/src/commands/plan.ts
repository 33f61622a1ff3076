// `switchyard plan --farm F --signals S.json [--json] [--solver milp|greedy] [--at T] [--site S]`:
// a dry-run plan for the farm under the given signals, with every change's reason. Nothing is
// sent to any device. The signals file format is in docs/planner.md ("Dry run").
import {
  formatSignalsIssue,
  parseSignalsFile,
  plan,
  planGreedy,
  walkPowerTree,
  type Farm,
  type LoadEntry,
  type Plan,
} from '@switchyard/domain';
import { HighsSolver } from '@switchyard/solver';
import { parseCommandArgs, type Command } from '../context.ts';
import { choice, intOption, isoMinute, loadFarm, money, readText, required, timeOption } from './inputs.ts';

const SOLVERS = ['milp', 'greedy'] as const;

export const planCommand: Command = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    {
      farm: { type: 'string' },
      signals: { type: 'string' },
      json: { type: 'boolean' },
      solver: { type: 'string' },
      at: { type: 'string' },
      site: { type: 'string' },
      'time-limit-ms': { type: 'string' },
    },
    false,
  );
  const farmFile = required('farm', values.farm, 'the farm file (e.g. examples/farm.yaml)');
  const signalsFile = required('signals', values.signals, 'the signals JSON (e.g. examples/signals.json)');
  const solverKind = choice('solver', values.solver, SOLVERS, 'milp');
  const at = timeOption('at', values.at);
  const timeLimitMs = intOption('time-limit-ms', values['time-limit-ms'], 10, 600_000);

  const farm = await loadFarm(farmFile, ctx);
  if (!farm) return 1;
  const text = await readText(signalsFile, ctx);
  if (text === null) return 1;
  const r = parseSignalsFile(text, farm, { site: values.site, at, now: Date.now() });
  if (!r.ok) {
    for (const i of r.issues) ctx.stderr.write(`${formatSignalsIssue(i, signalsFile)}\n`);
    ctx.stderr.write(`${signalsFile}: ${r.issues.length} problem${r.issues.length === 1 ? '' : 's'}\n`);
    return 1;
  }
  let result: Plan;
  if (solverKind === 'greedy') result = planGreedy(r.input);
  else {
    const solver = new HighsSolver();
    try {
      result = await plan(r.input, solver, timeLimitMs ? { timeLimitMs } : {});
    } finally {
      await solver.close();
    }
  }
  if (values.json) ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else ctx.stdout.write(renderPlan(result, farm));
  return 0;
};

const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
const pct = (kw: number, cap: number) => (cap > 0 ? `${Math.round((kw / cap) * 100)}%` : '—');

function loadLine(label: string, e: LoadEntry, note: string): string {
  return `  ${pad(label, 22)} ${lpad(money(e.kw), 9)} / ${lpad(money(e.capKw), 9)} kW ${lpad(pct(e.kw, e.capKw), 5)}  ${note}`;
}

/** The human form: changes with reasons, $/h by use, loads against limits. */
export function renderPlan(p: Plan, farm: Farm): string {
  const out: string[] = [];
  const solver = p.solver === 'milp' ? 'MILP' : `greedy${p.fallbackReason ? ` (${p.fallbackReason})` : ''}`;
  out.push(`Plan for ${p.site} at ${isoMinute(p.at)} — solver ${solver}`);
  out.push(
    `Prices: energy $${money(p.prices.energyUsdPerMwh, 2)}/MWh, hashprice $${money(p.prices.hashpriceUsdPerThDay * 1000, 2)}/PH/day` +
      (p.prices.gpuUsdPerGpuHour !== null
        ? `, GPU market $${money(p.prices.gpuUsdPerGpuHour, 2)}/GPU-h`
        : ''),
  );
  out.push('');
  if (p.changes.length === 0) out.push('No changes: the observed state already is the plan.');
  else {
    out.push(`Changes (${p.changes.length}):`);
    for (const c of p.changes) out.push(`  ${c.targetKind} ${c.target}: ${c.change} — ${c.reason}`);
  }
  const rejected = p.rejected.filter((x) => !x.preempted);
  if (rejected.length > 0) {
    out.push('', `Orders not admitted (${rejected.length}):`);
    for (const x of rejected) out.push(`  ${x.orderId} (${x.tier}, ${x.broker}): ${x.reason}`);
  }
  if (p.warnings.length > 0) {
    out.push('', `Warnings (${p.warnings.length}):`);
    for (const w of p.warnings) out.push(`  ${w}`);
  }
  const e = p.economics;
  out.push('', '$/h by use:');
  const row = (label: string, v: number) => out.push(`  ${pad(label, 14)} ${lpad(money(v, 2), 12)}`);
  row('hashing', e.hashingUsdPerHour);
  row('inference', e.inferenceUsdPerHour);
  row('GPU hashing', e.gpuHashingUsdPerHour);
  row('energy', -e.energyUsdPerHour);
  row('wear', -e.wearUsdPerHour);
  row('net', e.netUsdPerHour);

  const s = p.loads.site;
  out.push('', 'Loads vs limits:');
  out.push(
    loadLine(
      'facility (meter)',
      { kw: s.facilityKw, capKw: s.capKw, limitKw: s.capKw },
      `now ${money(s.currentKw)} kW; ramp cap ${money(s.rampCapKw)} kW; IT ${money(s.itKw)} kW`,
    ),
  );
  for (const [name, z] of Object.entries(p.loads.coolingZones))
    out.push(
      loadLine(`cooling ${name}`, z, z.capKw < z.limitKw ? `derated from ${money(z.limitKw)} kW` : ''),
    );
  const site = farm.sites.find((x) => x.metadata.name === p.site);
  const tree = site ? walkPowerTree(site.spec.powerTree) : [];
  for (const t of tree) {
    const entry = p.loads.powerTree[t.node.name];
    if (!entry) continue;
    out.push(loadLine(`${'  '.repeat(t.depth)}${t.node.name}`, entry, `limit ${money(entry.limitKw)} kW`));
  }
  return `${out.join('\n')}\n`;
}
