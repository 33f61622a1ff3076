// The signals file of `switchyard plan` (a dry-run plan's market values and situation).
export * from './signals-file.ts';
