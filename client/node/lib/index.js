/*
 * hmacd - Node client of hmacd, the local HMAC request verifier (see ../README.md and the
 * protocol in proto/PROTOCOL.md of the hmacd source tree).
 *
 *   const hmacd = require('hmacd');          // or: import * as hmacd from 'hmacd';
 *   const client = new hmacd.Client({ socket: '/run/hmacd/hmacd.sock' });
 *   app.post('/containers/:id/exec', hmacd.express({ client, param: 'id' }), handler);
 *
 * The package is written in CommonJS and this is its one implementation: index.mjs, the ES
 * module entry, re-exports these same objects (so an HmacdError is the same class either way).
 *
 * RFC 9421 (hmac-sha256) signing: hmacd.rfc9421.sign({...}) (see rfc9421.js); the middleware
 * verifies requests that carry Signature-Input as rfc9421 items.
 */
'use strict';

const { Client } = require('./client.js');
const { HmacdError, Verdict, verdictName } = require('./errors.js');
const { canonical, sha256, signItem } = require('./canon.js');
const { formatAuthorization, parseAuthorization, signRequest } = require('./auth.js');
const { hmacdExpress, keepRawBody } = require('./express.js');
const { hmacdFastify } = require('./fastify.js');
const { encodeVerifyFrame, decodeResponse } = require('./wire.js');
const rfc9421 = require('./rfc9421.js');
const sfv = require('./sfv.js');

module.exports = {
	Client,
	HmacdError,
	Verdict,
	verdictName,
	canonical,
	sha256,
	signItem,
	formatAuthorization,
	parseAuthorization,
	signRequest,
	hmacdExpress,
	express: hmacdExpress,
	keepRawBody,
	hmacdFastify,
	fastify: hmacdFastify,
	encodeVerifyFrame,
	decodeResponse,
	rfc9421,
	sfv,
};
