/**
 * The listeners: HTTPS (TLS 1.3 only; with VECTO_TLS_CLIENT_CA, mutual TLS) serving the app, and
 * an optional plain-HTTP listener whose only answer is a redirect to HTTPS. Both answer what the
 * HTTP layer refuses as problem+json (src/server/transport/http-errors.ts) and keep keep-alive
 * honest after an unread body (src/server/transport/connection.ts). These sockets accept
 * connections; they never open one (outbound traffic belongs to src/egress.ts).
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import type { ListenAddress } from "../config.js";
import type { Logger } from "../log.js";
import type { AppEnv } from "./deps.js";
import { TransportResponse } from "./transport/connection.js";
import { adapterProblem, answerHttpErrors, guardRequests } from "./transport/http-errors.js";
import { securityHeaderValues } from "./middleware/security-headers.js";
import type { TlsFiles } from "../tls/tls-files.js";
import { TransportResponder } from "./transport/problem-response.js";

export type { TlsFiles } from "../tls/tls-files.js";

export interface RunningServer {
  /** The bound HTTPS address (port resolved when 0 was asked for). */
  readonly address: ListenAddress;
  readonly redirectAddress: ListenAddress | null;
  /**
   * Serves these files to every handshake from now on. Open connections keep the certificate they
   * were made with; nothing is dropped. The caller checks the files first (loadCheckedTlsFiles):
   * this only throws when OpenSSL refuses them, and then the old ones stay.
   */
  reloadTls(tls: TlsFiles): void;
  /** Stops accepting, lets in-flight requests finish (bounded), then resolves. */
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 10_000;

function listening(server: HttpServer | HttpsServer): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once("error", onError);
    const done = (): void => {
      server.off("error", onError);
      const info = server.address() as AddressInfo;
      resolve({ host: info.address, port: info.port });
    };
    if (server.listening) done();
    else server.once("listening", done);
  });
}

function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  });
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** A redirect target built from the configured address; the Host header only supplies a hostname when we listen on all interfaces. */
function redirectServer(https: ListenAddress, responder: TransportResponder): HttpServer {
  const server = createHttpServer(
    { ServerResponse: TransportResponse, requireHostHeader: false },
    guardRequests(responder, (req: IncomingMessage, res: ServerResponse) => {
      const wildcard = https.host === "0.0.0.0" || https.host === "::";
      const requested = (req.headers.host ?? "").replace(/:\d+$/, "");
      const host = wildcard && /^[A-Za-z0-9.-]{1,253}$/.test(requested) ? requested : formatHost(https.host);
      const path = (req.url ?? "/").startsWith("/") ? (req.url ?? "/") : "/";
      res.writeHead(308, {
        Location: `https://${host}:${https.port}${path}`,
        "Content-Length": "0",
        Connection: "close",
      });
      res.end();
    }),
  );
  answerHttpErrors(server, responder);
  return server;
}

/** OpenSSL's reason ("peer did not return a certificate"), else Node's code: fixed texts, nothing the client chose. */
function handshakeFailure(error: Error & { code?: string }): string {
  return /SSL routines:[^:]*:([^:]+):/.exec(error.message)?.[1] ?? error.code ?? error.name;
}

/** What a handshake is made with; setSecureContext replaces all of it, so a reload passes the versions again. */
function secureContextOptions(tls: TlsFiles): {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  minVersion: "TLSv1.3";
  maxVersion: "TLSv1.3";
} {
  const base = { cert: tls.cert, key: tls.key, minVersion: "TLSv1.3" as const, maxVersion: "TLSv1.3" as const };
  return tls.clientCa === null || tls.clientCa === undefined ? base : { ...base, ca: tls.clientCa };
}

/** The HTTPS server: the app behind @hono/node-server's request listener, with the transport's answers around it. */
function appServer(
  app: Hono<AppEnv>,
  options: { listen: ListenAddress; tls: TlsFiles; log: Logger },
  responder: TransportResponder,
): HttpsServer {
  const listener = getRequestListener(app.fetch, {
    hostname: options.listen.host,
    autoCleanupIncoming: false,
    errorHandler: (error) => responder.response(adapterProblem(error)),
  });
  const clientCa = options.tls.clientCa ?? null;
  // Whether a client certificate is asked for is fixed at start: a reload swaps the CA bundle, not the policy.
  const mutual = clientCa === null ? {} : { requestCert: true, rejectUnauthorized: true };
  const server = createHttpsServer(
    { ...secureContextOptions(options.tls), ...mutual, ServerResponse: TransportResponse, requireHostHeader: false },
    guardRequests(responder, listener),
  );
  answerHttpErrors(server, responder);
  if (clientCa !== null) {
    server.on("tlsClientError", (error: Error & { code?: string }) =>
      options.log.info({ reason: handshakeFailure(error) }, "TLS handshake refused"),
    );
  }
  return server;
}

export async function startServer(
  app: Hono<AppEnv>,
  options: { listen: ListenAddress; redirectListen: ListenAddress | null; tls: TlsFiles; log: Logger },
): Promise<RunningServer> {
  const responder = new TransportResponder(await securityHeaderValues(), options.log);
  const https = appServer(app, options, responder);
  https.listen(options.listen.port, options.listen.host);
  const address = await listening(https);

  let redirect: HttpServer | null = null;
  let redirectAddress: ListenAddress | null = null;
  if (options.redirectListen) {
    redirect = redirectServer(address, responder);
    redirect.listen(options.redirectListen.port, options.redirectListen.host);
    try {
      redirectAddress = await listening(redirect);
    } catch (error) {
      await closeServer(https);
      throw error;
    }
  }

  return {
    address,
    redirectAddress,
    reloadTls(tls) {
      https.setSecureContext(secureContextOptions(tls));
    },
    async close() {
      await Promise.all([closeServer(https), redirect ? closeServer(redirect) : Promise.resolve()]);
    },
  };
}
