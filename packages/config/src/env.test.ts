import { describe, expect, it } from '@jest/globals';
import { apiEnvSchema, backingEnvSchema } from './services.ts';
import { ConfigError, parseEnv } from './env.ts';

const base = { REDIS_URL: 'redis://127.0.0.1:6379' };

describe('parseEnv', () => {
  it('applies defaults', () => {
    const env = parseEnv(apiEnvSchema, base);
    expect(env).toMatchObject({
      PORT: 8080,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      LOG_PRETTY: false,
      REDIS_EVICTION_CHECK: 'refuse',
      FARM_FILE: 'examples/farm.yaml',
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv(apiEnvSchema, { ...base, PORT: '', DATABASE_URL: '' }).PORT).toBe(8080);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT', 'must be a number (got "abc")'],
    [{ PORT: '70000' }, 'PORT', 'must be between 0 and 65535 (got "70000")'],
    [{ PORT: '80.5' }, 'PORT', 'must be an integer (got "80.5")'],
    [
      { DATABASE_URL: 'mysql://x/y' },
      'DATABASE_URL',
      'must be a URL with scheme postgres or postgresql (got "mysql://x/y")',
    ],
    [
      { REDIS_URL: 'localhost:6379' },
      'REDIS_URL',
      'must be a URL with scheme redis or rediss (got "localhost:6379")',
    ],
    [{ REDIS_URL: undefined }, 'REDIS_URL', 'is required (a redis:// URL)'],
    [{ LOG_PRETTY: 'maybe' }, 'LOG_PRETTY', 'must be true or false (got "maybe")'],
    [{ REDIS_EVICTION_CHECK: 'ignore' }, 'REDIS_EVICTION_CHECK', expect.stringContaining('(got "ignore")')],
  ])('rejects %j naming %s', (over, variable, message) => {
    let err: unknown;
    try {
      parseEnv(apiEnvSchema, { ...base, ...over });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([{ variable, message }]);
    expect((err as ConfigError).message).toContain(`  ${variable}: `);
  });

  it('reports every bad variable at once', () => {
    expect(() => parseEnv(apiEnvSchema, { PORT: 'x', LOG_LEVEL: 'loud' })).toThrow(
      expect.objectContaining({
        problems: expect.arrayContaining([
          expect.objectContaining({ variable: 'PORT' }),
          expect.objectContaining({ variable: 'LOG_LEVEL' }),
          expect.objectContaining({ variable: 'REDIS_URL' }),
        ]),
      }),
    );
  });

  it('ignores variables no schema declares', () => {
    expect(parseEnv(backingEnvSchema, { HOME: '/root', PATH: '/bin' })).toEqual({
      LOG_LEVEL: 'info',
      LOG_PRETTY: false,
      REDIS_EVICTION_CHECK: 'refuse',
    });
  });
});
