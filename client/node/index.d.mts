/*
 * index.d.mts - the types of the ES module entry (lib/index.mjs): the same names as the
 * CommonJS entry, whose types are index.d.ts.
 */
export * from './index.js';
