/*
 * hmacd - Node client of hmacd, the local HMAC request verifier (see ../README.md and the
 * protocol in proto/PROTOCOL.md of the hmacd source tree).
 *
 *   import * as hmacd from 'hmacd';
 *   const client = new hmacd.Client({ socket: '/run/hmacd/hmacd.sock' });
 *   app.post('/containers/:id/exec', hmacd.express({ client, param: 'id' }), handler);
 */
export { Client } from './client.js';
export { HmacdError, Verdict, verdictName } from './errors.js';
export { canonical, sha256, signItem } from './canon.js';
export { formatAuthorization, parseAuthorization, signRequest } from './auth.js';
export { hmacdExpress, hmacdExpress as express } from './express.js';
export { encodeVerifyFrame, decodeResponse } from './wire.js';
