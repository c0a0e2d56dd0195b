/*
 * index.mjs - the ES module entry of hmacd: the CommonJS implementation (index.js), re-exported
 * by name. One implementation for both module systems, so a program that both imports and
 * requires hmacd (directly or through its dependencies) shares one Client class, one
 * HmacdError and one Verdict table, and instanceof works across them.
 */
import hmacd from './index.js';

export const {
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
	express,
	keepRawBody,
	hmacdFastify,
	fastify,
	encodeVerifyFrame,
	decodeResponse,
	rfc9421,
	sfv,
} = hmacd;
