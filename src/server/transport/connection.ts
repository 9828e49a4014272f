/**
 * Keep-alive that survives an unread request body.
 *
 * A response may go out before its request body was read: a 413 decided from Content-Length, a
 * 401 or 404 before the handler looks at the body. @hono/node-server then drains the rest for at
 * most 500 ms and otherwise destroys the socket; and since the body stream it handed to the app
 * (Readable.toWeb) pauses the request again whenever its queue is full, that drain stalls even
 * for a body that has fully arrived. The client was promised keep-alive and its next request on
 * the connection got no answer.
 *
 * The rule here: a body that has arrived, or a declared body of at most DISCARD_LIMIT_BYTES, is
 * read and discarded after the response, and the connection stays open. Any other response whose
 * request body has not fully arrived when its headers are written says `Connection: close`
 * (nobody can make us read gigabytes to keep a connection), and the connection is then closed
 * gracefully: our side is ended after the response, what the client
 * still sends is read and discarded for at most LINGER_MS, and requests it pipelined after the
 * refused one are not processed (RFC 9112, section 9.6). Closing outright while the client is
 * still sending would make the kernel answer with a reset, which can destroy the response before
 * the client has read it. The adapter's own drain is switched off (autoCleanupIncoming: false in
 * src/server/listen.ts): this module owns the policy.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from "node:http";

/** How long a closing connection keeps reading (and discarding) what the client still sends. */
export const LINGER_MS = 2_000;

/** The accepted connection (a TLS socket on the HTTPS listener). */
type Socket = IncomingMessage["socket"];

const closing = new WeakSet<Socket>();
/** Responses whose headers went out and that have not finished, per socket: a parser error must then not write. */
const sending = new WeakMap<Socket, number>();

/** True once a response on this connection said `Connection: close`: later requests on it are not processed. */
export function isClosing(socket: Socket): boolean {
  return closing.has(socket);
}

/** True while a response's headers are on the wire and its body is not: nothing else may be written then. */
export function isSending(socket: Socket): boolean {
  return (sending.get(socket) ?? 0) > 0;
}

/** End our side now; destroy when the client has closed too, or after `ms` at the latest. */
export function closeGracefully(socket: Socket, ms = LINGER_MS): void {
  closing.add(socket);
  // A socket handed over by Node (CONNECT) has no error listener left: a reset must not throw.
  if (socket.listenerCount("error") === 0) socket.on("error", () => socket.destroy());
  if (!socket.writableEnded) socket.end();
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

/** A declared body this small is read and discarded after the response, and the connection kept. */
export const DISCARD_LIMIT_BYTES = 64 * 1024;

function smallBody(req: IncomingMessage): boolean {
  const length = Number(req.headers["content-length"]);
  return (
    req.headers["transfer-encoding"] === undefined && Number.isSafeInteger(length) && length <= DISCARD_LIMIT_BYTES
  );
}

/** Reads what is left of a body nobody will read, so that the connection can go on (or close without a reset). */
function discardBody(req: IncomingMessage): void {
  if (req.readableEnded) return;
  // The web stream the app was given would pause the request again: its listener goes.
  req.removeAllListeners("data");
  req.resume();
}

/** Node's ServerResponse, plus the keep-alive rule above: passed as the `ServerResponse` server option. */
export class TransportResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  override writeHead(
    statusCode: number,
    second?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    third?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    if (!this.headersSent) this.beforeHeaders();
    return typeof second === "string"
      ? super.writeHead(statusCode, second, third)
      : super.writeHead(statusCode, second);
  }

  private beforeHeaders(): void {
    const socket = this.req.socket;
    sending.set(socket, (sending.get(socket) ?? 0) + 1);
    const done = (): void => {
      sending.set(socket, Math.max(0, (sending.get(socket) ?? 1) - 1));
    };
    this.once("finish", () => {
      done();
      discardBody(this.req);
    });
    this.once("close", () => {
      if (!this.writableFinished) done();
    });
    if (this.req.complete || smallBody(this.req)) return;
    this.setHeader("Connection", "close");
    closing.add(socket);
    // Node ends a `Connection: close` response with socket.destroySoon(): end, then destroy at once.
    socket.destroySoon = () => closeGracefully(socket);
  }
}
