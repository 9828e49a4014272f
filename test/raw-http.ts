/**
 * A raw HTTP/1.1 client over TLS (or plain TCP) for transport tests: it writes exactly the bytes
 * it is given, on one connection, and reads responses one by one (Content-Length framed), so a
 * test sees what a keep-alive client sees: which responses came, what they said about the
 * connection, and whether the connection ended cleanly or was reset.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";

export interface RawResponse {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Record<string, string>;
  readonly body: string;
}

export class RawConnection {
  #buffer = Buffer.alloc(0);
  #ended = false;
  #error: string | null = null;
  #waiters: (() => void)[] = [];
  readonly #closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      this.#error = error.code ?? error.message;
      this.#wake();
    });
    this.#closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static open(port: number, kind: "tls" | "tcp" = "tls"): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket =
        kind === "tls"
          ? tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => resolve(new RawConnection(socket)))
          : tcpConnect({ host: "127.0.0.1", port }, () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Writes and resolves once the bytes were handed to the kernel (a large body takes a while). */
  writeAll(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.write(data, () => resolve()));
  }

  end(): void {
    this.socket.end();
  }

  /** The next complete response; rejects when the connection ends or fails first. */
  async response(): Promise<RawResponse> {
    for (;;) {
      const parsed = this.#take();
      if (parsed) return parsed;
      if (this.#error !== null) throw new Error(`connection failed: ${this.#error}`);
      if (this.#ended) throw new Error(`connection ended (${this.#buffer.length} bytes unparsed)`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Resolves when the server has ended the connection: how it ended, and any bytes that came after the last response. */
  async ending(): Promise<{ error: string | null; trailing: number }> {
    while (!this.#ended && this.#error === null) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return { error: this.#error, trailing: this.#buffer.length };
  }

  /** Resolves once the socket is fully closed. */
  closed(): Promise<void> {
    return this.#closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  #take(): RawResponse | null {
    const headEnd = this.#buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) return null;
    const [statusLine = "", ...lines] = this.#buffer.subarray(0, headEnd).toString("latin1").split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const at = line.indexOf(":");
      headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
    }
    const length = Number(headers["content-length"] ?? "0");
    if (this.#buffer.length < headEnd + 4 + length) return null;
    const body = this.#buffer.subarray(headEnd + 4, headEnd + 4 + length).toString("utf8");
    this.#buffer = this.#buffer.subarray(headEnd + 4 + length);
    return { status: Number(statusLine.split(" ")[1]), headers, body };
  }
}
