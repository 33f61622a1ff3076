export * from './redis.ts';
