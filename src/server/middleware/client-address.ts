/**
 * Establishes the client's address once per request (c.get("clientAddress")): the TCP peer, or,
 * when the peer is a trusted reverse proxy (VECTO_TRUSTED_PROXIES), the first untrusted address
 * in X-Forwarded-For from the right. Throttling, rate limits, audit events and the access log
 * all read it from here, so they cannot disagree about who the client is.
 */
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, MiddlewareHandler } from "hono";
import type { TrustedProxies } from "../../net-address.js";
import type { AppEnv } from "../deps.js";

function peerAddress(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    // No socket: a request made in-process (app.request) has no peer.
    return undefined;
  }
}

export function clientAddress(proxies: TrustedProxies): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set("clientAddress", proxies.clientAddress(peerAddress(c), c.req.header("x-forwarded-for")));
    await next();
  };
}
