// A signal hub with fixed, trusted prices for controller tests: bitcoin at 95,000 USD, difficulty
// 1.1e14, 0.05 BTC of fees per block, and the energy price given. Refreshed once, ready to plan.
import { FixedValueSource, SignalHub } from '@switchyard/signals';

export async function fixedPriceHub(energyUsdPerMwh: number): Promise<SignalHub> {
  const hub = new SignalHub({
    sources: [
      {
        source: new FixedValueSource(
          [
            { signal: 'btc_usd', value: 95_000 },
            { signal: 'difficulty', value: 1.1e14 },
            { signal: 'fees_btc_per_block', value: 0.05 },
            { signal: 'energy_usd_per_mwh', value: energyUsdPerMwh },
          ],
          { name: 'pushed-test' },
        ),
        trusted: true,
      },
    ],
  });
  await hub.refresh();
  return hub;
}
