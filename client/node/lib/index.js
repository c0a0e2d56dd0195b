/*
 * hmacd - Node client of hmacd, the local HMAC request verifier (see ../README.md and the
 * protocol in proto/PROTOCOL.md of the hmacd source tree).
 *
 *   import * as hmacd from 'hmacd';
 *   const client = new hmacd.Client({ socket: '/run/hmacd/hmacd.sock' });
 *   app.post('/containers/:id/exec', hmacd.express({ client, param: 'id' }), handler);
 *
 * RFC 9421 (hmac-sha256) signing: hmacd.rfc9421.sign({...}) (see rfc9421.js); the middleware
 * verifies requests that carry Signature-Input as rfc9421 items.
 */
export { Client } from './client.js';
export { HmacdError, Verdict, verdictName } from './errors.js';
export { canonical, sha256, signItem } from './canon.js';
export { formatAuthorization, parseAuthorization, signRequest } from './auth.js';
export { hmacdExpress, hmacdExpress as express } from './express.js';
export { encodeVerifyFrame, decodeResponse } from './wire.js';
export * as rfc9421 from './rfc9421.js';
export * as sfv from './sfv.js';
