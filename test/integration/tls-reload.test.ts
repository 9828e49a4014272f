/**
 * Certificate renewal without a restart: SIGHUP (systemctl reload) and `vecto tls renew` make a
 * running `vecto serve` serve new certificate files to new connections while open connections
 * keep theirs; files that fail the checks are refused and the old certificate keeps serving; a
 * stale serve record never gets a process signalled. Real processes, real HTTPS, certificates
 * made here for this run.
 */
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import { connect } from "node:tls";
import { generate } from "selfsigned";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { acquireDataDirLock } from "../../src/db/data-dir-lock.js";
import { processStartTime, SERVE_RECORD_FILE } from "../../src/tls/serve-record.js";
import {
  freePort,
  runCli,
  startServe,
  tempDir,
  waitForExit,
  waitForLines,
  newConnectionFingerprint,
} from "../helpers.js";

const DAY = 86_400_000;

interface Pair {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint: string;
}

async function serverPair(
  name: string,
  validity: { from: number; to: number } = { from: -DAY, to: 90 * DAY },
): Promise<Pair> {
  const pem = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: new Date(Date.now() + validity.from),
    notAfterDate: new Date(Date.now() + validity.to),
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] },
    ],
  });
  return { cert: pem.cert, key: pem.private, fingerprint: new X509Certificate(pem.cert).fingerprint256 };
}

interface KeptAliveAnswer {
  readonly status: number;
  readonly body: string;
  readonly reusedSocket: boolean;
  readonly fingerprint: string;
}

/** A GET over the agent's one kept-alive connection, with the certificate that connection was made with. */
function getKeptAlive(agent: Agent, port: number, path: string): Promise<KeptAliveAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent, rejectUnauthorized: false }, (res) => {
      const fingerprint = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256;
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, reusedSocket: req.reusedSocket, fingerprint }));
    });
    req.on("error", reject);
    req.end();
  });
}

function install(pair: Pair, certFile: string, keyFile: string): void {
  writeFileSync(keyFile, pair.key, { mode: 0o600 });
  writeFileSync(certFile, pair.cert, { mode: 0o644 });
}

describe("TLS reload on a running vecto serve (customer certificate)", () => {
  const dir = tempDir();
  const certFile = join(dir.path, "cert.pem");
  const keyFile = join(dir.path, "key.pem");
  const dataDir = join(dir.path, "data");
  let env: Record<string, string>;
  let server: Awaited<ReturnType<typeof startServe>>;
  let port: number;
  let served: Pair;
  let reloads = 0;
  let refusals = 0;

  beforeAll(async () => {
    served = await serverPair("vecto.example (first)");
    install(served, certFile, keyFile);
    port = await freePort();
    env = {
      VECTO_DATA_DIR: dataDir,
      VECTO_LISTEN: `127.0.0.1:${port}`,
      VECTO_TLS_CERT: certFile,
      VECTO_TLS_KEY: keyFile,
      VECTO_BACKUP_SCHEDULE: "off",
    };
    server = await startServe(dir.path, env, ["--no-setup-token"]);
  });

  afterAll(async () => {
    server.child.kill("SIGTERM");
    await waitForExit(server.child);
    dir.cleanup();
  });

  async function sighup(expect: "reloaded" | "refused"): Promise<string> {
    if (expect === "reloaded") reloads += 1;
    else refusals += 1;
    server.child.kill("SIGHUP");
    const lines = await waitForLines(
      server.child,
      server.stdout,
      expect === "reloaded" ? '"msg":"tls certificate reloaded"' : '"msg":"tls certificate reload refused',
      expect === "reloaded" ? reloads : refusals,
    );
    return lines.at(-1) ?? "";
  }

  it("serves the configured certificate, records itself for `vecto tls renew`, and /readyz has no warning", async () => {
    expect(await newConnectionFingerprint(port)).toBe(served.fingerprint);
    const record = JSON.parse(readFileSync(join(dataDir, SERVE_RECORD_FILE), "utf8")) as {
      pid: number;
      startTime: string;
    };
    expect(record.pid).toBe(server.child.pid);
    expect(record.startTime).toBe(processStartTime(server.child.pid ?? 0));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ready = await getKeptAlive(agent, port, "/readyz");
    agent.destroy();
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: "ready", warnings: [] });
  });

  it("SIGHUP: an open keep-alive connection keeps working with the OLD certificate, a new connection gets the NEW one", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = await getKeptAlive(agent, port, "/healthz");
    expect(before).toMatchObject({ status: 200, reusedSocket: false, fingerprint: served.fingerprint });

    const next = await serverPair("vecto.example (renewed)");
    install(next, certFile, keyFile);
    const logged = await sighup("reloaded");

    const after = await getKeptAlive(agent, port, "/healthz");
    expect(after).toMatchObject({ status: 200, reusedSocket: true, fingerprint: served.fingerprint });
    expect(await newConnectionFingerprint(port)).toBe(next.fingerprint);
    agent.destroy();

    // The log line names the certificate, never key material.
    expect(JSON.parse(logged)).toMatchObject({
      trigger: "SIGHUP",
      subject: "CN=vecto.example (renewed)",
      fingerprint256: next.fingerprint,
    });
    expect(logged).not.toContain("PRIVATE KEY");
    expect(logged).not.toContain(next.key.split("\n")[1]);
    served = next;
  });

  it("still offers TLS 1.3 only after a reload", async () => {
    const refused = new Promise<unknown>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, maxVersion: "TLSv1.2" }, () =>
        resolve("connected"),
      );
      socket.on("error", (error) => resolve(error));
    });
    expect(await refused).toMatchObject({ code: expect.stringMatching(/^ERR_SSL_/) });
  });

  it.each([
    [
      "a key that is not the certificate's",
      async (): Promise<Pair> => ({ ...(await serverPair("mismatch")), key: (await serverPair("other")).key }),
      /the key does not match the certificate/,
    ],
    [
      "an expired certificate",
      (): Promise<Pair> => serverPair("expired", { from: -30 * DAY, to: -DAY }),
      /the certificate expired on /,
    ],
    [
      "a certificate not valid yet",
      (): Promise<Pair> => serverPair("future", { from: 2 * DAY, to: 90 * DAY }),
      /the certificate is not valid before /,
    ],
    [
      "a key file that is not PEM",
      async (): Promise<Pair> => ({ ...(await serverPair("garbled")), key: "not a key\n" }),
      /the key file is not a PEM private key/,
    ],
  ])("refuses %s with one log line and keeps serving the old certificate", async (_name, make, reason) => {
    const bad = await make();
    install(bad, certFile, keyFile);
    const logged = JSON.parse(await sighup("refused")) as { refused: string; serving: string; level: number | string };
    expect(logged.refused).toMatch(reason);
    expect(logged.serving).toBe(served.fingerprint);
    expect(await newConnectionFingerprint(port)).toBe(served.fingerprint);
    expect((await fetchReady()).status).toBe(200);
    install(served, certFile, keyFile);
  });

  it("refuses a missing key file and keeps serving", async () => {
    rmSync(keyFile);
    const logged = JSON.parse(await sighup("refused")) as { refused: string };
    expect(logged.refused).toMatch(/^cannot read the key file .*key\.pem \(ENOENT\)$/);
    expect(await newConnectionFingerprint(port)).toBe(served.fingerprint);
    install(served, certFile, keyFile);
  });

  it("vecto tls renew: checks the new files, signals the server and reports that it reloaded", async () => {
    const next = await serverPair("vecto.example (renewed by the CLI)");
    install(next, certFile, keyFile);
    reloads += 1;
    const result = runCli(["tls", "renew"], { cwd: dir.path, env });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`sha256 ${next.fingerprint}`);
    expect(result.stdout).toContain(`vecto serve (pid ${server.child.pid}) reloaded it`);
    expect(await newConnectionFingerprint(port)).toBe(next.fingerprint);
    served = next;
  });

  it("vecto tls renew refuses a bad pair in one line without signalling; the server keeps its certificate", async () => {
    const bad = { ...(await serverPair("mismatch")), key: (await serverPair("other")).key };
    install(bad, certFile, keyFile);
    const result = runCli(["tls", "renew"], { cwd: dir.path, env });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^vecto: the key does not match the certificate \(CN=mismatch, .*\); nothing was reloaded\n$/,
    );
    expect(
      server
        .stdout()
        .split("\n")
        .filter((l) => l.includes("tls certificate reload")).length,
    ).toBe(reloads + refusals);
    expect(await newConnectionFingerprint(port)).toBe(served.fingerprint);
    install(served, certFile, keyFile);
  });

  it("vecto tls renew --self-signed never overwrites a configured certificate", async () => {
    const before = readFileSync(certFile, "utf8");
    const result = runCli(["tls", "renew", "--self-signed"], { cwd: dir.path, env });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^vecto: --self-signed: VECTO_TLS_CERT is set, so .*cert\.pem is your own certificate and is never overwritten; /,
    );
    expect(readFileSync(certFile, "utf8")).toBe(before);
    expect(await newConnectionFingerprint(port)).toBe(served.fingerprint);
  });

  async function fetchReady(): Promise<{ status: number }> {
    const agent = new Agent({ keepAlive: false });
    const answer = await getKeptAlive(agent, port, "/readyz");
    agent.destroy();
    return answer;
  }
});

describe("vecto tls renew without a running server", () => {
  const dir = tempDir();
  const dataDir = join(dir.path, "data");
  const certFile = join(dir.path, "cert.pem");
  const keyFile = join(dir.path, "key.pem");
  const env = { VECTO_DATA_DIR: dataDir, VECTO_TLS_CERT: certFile, VECTO_TLS_KEY: keyFile };
  const children: ReturnType<typeof spawn>[] = [];

  beforeAll(async () => {
    install(await serverPair("vecto.example"), certFile, keyFile);
    expect(runCli(["init"], { cwd: dir.path, env }).status).toBe(0);
  });
  afterEach(() => children.splice(0).forEach((child) => child.kill("SIGKILL")));
  afterAll(() => dir.cleanup());

  it("vecto tls check: the configured pair, or new files before they are put in place; changes nothing", async () => {
    const configured = runCli(["tls", "check"], { cwd: dir.path, env });
    expect(configured.status).toBe(0);
    expect(configured.stdout).toMatch(
      /^certificate: CN=vecto\.example; names: IP Address:127\.0\.0\.1; valid until \S+ \(\d+ days\); sha256 [0-9A-F:]+\n$/,
    );

    const next = await serverPair("vecto.example (next)");
    const other = await serverPair("other");
    writeFileSync(join(dir.path, "next-cert.pem"), next.cert);
    writeFileSync(join(dir.path, "next-key.pem"), next.key);
    writeFileSync(join(dir.path, "other-key.pem"), other.key);
    const good = runCli(["tls", "check", "--cert", "next-cert.pem", "--key", "next-key.pem", "--json"], {
      cwd: dir.path,
      env,
    });
    expect(good.status).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({
      certFile: join(dir.path, "next-cert.pem"),
      certificate: { fingerprint256: next.fingerprint },
      warnings: [],
    });
    const bad = runCli(["tls", "check", "--cert", "next-cert.pem", "--key", "other-key.pem"], { cwd: dir.path, env });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^vecto: the key does not match the certificate \(CN=vecto\.example \(next\), /);
    expect(runCli(["tls", "check", "--cert", "next-cert.pem"], { cwd: dir.path, env }).stderr).toBe(
      "vecto: --cert and --key go together\n",
    );
    expect(new X509Certificate(readFileSync(certFile)).subject).toBe("CN=vecto.example");
  });

  it("only checks the files and says that the next start uses them", () => {
    const result = runCli(["tls", "renew"], { cwd: dir.path, env });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      `no vecto serve is running on ${dataDir}: it uses this certificate at its next start`,
    );
  });

  /** A stand-in process with a serve record naming it, and the data-directory lock held (as a running server holds it). */
  async function recordedProcess(
    startTime: (pid: number) => string | null,
  ): Promise<{ release: () => void; stop: () => Promise<NodeJS.Signals | null> }> {
    const child = spawn("sleep", ["60"]);
    children.push(child);
    await new Promise((resolve) => child.once("spawn", resolve));
    const pid = child.pid ?? 0;
    writeFileSync(
      join(dataDir, SERVE_RECORD_FILE),
      JSON.stringify({
        pid,
        startTime: startTime(pid),
        tls: { sequence: 0, ok: true, at: "", fingerprint256: "", validTo: "" },
      }),
    );
    const lock = acquireDataDirLock(dataDir);
    let signal: NodeJS.Signals | null = null;
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code, s) => {
        signal = s;
        resolve(code);
      }),
    );
    // What ended it: SIGHUP if the CLI signalled it, else our SIGTERM (the CLI blocks this event loop while it runs).
    const stop = async (): Promise<NodeJS.Signals | null> => {
      child.kill("SIGTERM");
      await exited;
      return signal;
    };
    return { release: () => lock.release(), stop };
  }

  it("a serve record whose pid now belongs to another process (other start time) gets nothing signalled", async () => {
    const stranger = await recordedProcess(() => "1");
    const result = runCli(["tls", "renew"], { cwd: dir.path, env });
    stranger.release();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("no vecto serve is running");
    expect(await stranger.stop()).toBe("SIGTERM");
  });

  it("the same record with the process's real start time does get it signalled (the check above is what held)", async () => {
    const recorded = await recordedProcess((pid) => processStartTime(pid));
    const result = runCli(["tls", "renew"], { cwd: dir.path, env });
    recorded.release();
    expect(await recorded.stop()).toBe("SIGHUP");
    // sleep died of the signal and never answered: the CLI says so in one line.
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^vecto: vecto serve \(pid \d+\) exited before it said whether it reloaded; see its log\n$/,
    );
  });

  it("a record left behind by a server that died (lock free) gets nothing signalled", async () => {
    const left = await recordedProcess((pid) => processStartTime(pid));
    left.release();
    const result = runCli(["tls", "renew"], { cwd: dir.path, env });
    expect(result.stdout).toContain("no vecto serve is running");
    expect(await left.stop()).toBe("SIGTERM");
  });
});
