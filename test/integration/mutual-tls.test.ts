/**
 * Optional mutual TLS (VECTO_TLS_CLIENT_CA): with a client CA configured, only a client that
 * presents a valid certificate chained to it gets an HTTP answer, /healthz included. The CAs and
 * certificates are made here, for this run.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "selfsigned";
import { runChecks } from "../../src/cli/doctor.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { prepareForServe } from "../../src/data-dir.js";
import { createLogger } from "../../src/log.js";
import { buildApp } from "../../src/server/app.js";
import { servedParts } from "../../src/server/deps.js";
import { startServer, type RunningServer } from "../../src/server/listen.js";
import { readClientCa, readTlsFiles } from "../../src/tls/tls-files.js";
import { describeCertificate } from "../../src/crypto/tls-certificate.js";
import { ServedCertificate } from "../../src/tls/served-certificate.js";
import { TlsReloader } from "../../src/server/tls-reload.js";
import type { TlsReloadOutcome } from "../../src/tls/serve-record.js";
import type { Config } from "../../src/config.js";
import { openServices, type Services } from "../../src/services.js";
import { httpsRequest, runCli, tempDir, testDir } from "../helpers.js";

interface Pem {
  readonly cert: string;
  readonly key: string;
}

const DAY = 86_400_000;

async function certificateAuthority(name: string): Promise<Pem> {
  const pem = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: new Date(Date.now() - DAY),
    notAfterDate: new Date(Date.now() + 30 * DAY),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return { cert: pem.cert, key: pem.private };
}

async function clientCertificate(
  name: string,
  ca: Pem,
  validity: { from: Date; to: Date } = { from: new Date(Date.now() - DAY), to: new Date(Date.now() + 30 * DAY) },
): Promise<Pem> {
  const pem = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: validity.from,
    notAfterDate: validity.to,
    ca,
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", clientAuth: true },
    ],
  });
  return { cert: pem.cert, key: pem.private };
}

/** The server's TLS alert, or a reset when the client writes before it reads the alert (TLS 1.3 sends it after the client's Finished). */
function refusedWith(alert: string): { code: unknown } {
  return { code: expect.stringMatching(new RegExp(`^(ERR_SSL_\\w*ALERT_${alert}|ECONNRESET)$`)) };
}

describe("mutual TLS", () => {
  const dir = tempDir();
  let services: Services;
  let server: RunningServer;
  let port: number;
  let ca: Pem;
  let trusted: Pem;
  let foreign: Pem;
  let expired: Pem;
  let caFile: string;
  let config: Config;
  const logLines: string[] = [];

  beforeAll(async () => {
    ca = await certificateAuthority("vecto test client CA");
    const otherCa = await certificateAuthority("some other CA");
    trusted = await clientCertificate("reverse-proxy.example", ca);
    foreign = await clientCertificate("reverse-proxy.example", otherCa);
    expired = await clientCertificate("old-service.example", ca, {
      from: new Date(Date.now() - 20 * DAY),
      to: new Date(Date.now() - 10 * DAY),
    });
    caFile = join(dir.path, "client-ca.pem");
    writeFileSync(caFile, ca.cert);

    config = loadConfig(
      {
        VECTO_ENV_FILE: "/dev/null",
        VECTO_DATA_DIR: join(dir.path, "data"),
        VECTO_LISTEN: "127.0.0.1:0",
        VECTO_TLS_CLIENT_CA: caFile,
      },
      dir.path,
    );
    const log = createLogger("info", { write: (line: string) => void logLines.push(line) });
    await prepareForServe(config, log);
    services = await openServices(config, log);
    const app = buildApp({ ...servedParts(services), log, bodyLimitBytes: config.bodyLimitBytes });
    server = await startServer(app, {
      listen: config.listen,
      redirectListen: null,
      tls: readTlsFiles(config.tls),
      log,
    });
    port = server.address.port;
  });

  afterAll(async () => {
    await server.close();
    services.close();
    dir.cleanup();
  });

  it("serves a client whose certificate chains to the configured CA", async () => {
    const health = await httpsRequest(port, "/healthz", { clientCert: trusted });
    expect(health.status).toBe(200);
    const missing = await httpsRequest(port, "/api/nothing-here", { clientCert: trusted });
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toBe("application/problem+json");
  });

  it("refuses a client without a certificate, for /healthz too, and logs why", async () => {
    const before = logLines.length;
    for (const path of ["/healthz", "/api/me"]) {
      await expect(httpsRequest(port, path)).rejects.toMatchObject(refusedWith("CERTIFICATE_REQUIRED"));
    }
    const refusals = (): unknown[] => logLines.slice(before).map((l) => JSON.parse(l) as unknown);
    await expect
      .poll(refusals)
      .toContainEqual(
        expect.objectContaining({ msg: "TLS handshake refused", reason: "peer did not return a certificate" }),
      );
  });

  it("refuses a certificate from another CA", async () => {
    await expect(httpsRequest(port, "/healthz", { clientCert: foreign })).rejects.toMatchObject(
      refusedWith("UNKNOWN_CA"),
    );
  });

  it("refuses an expired certificate from the right CA", async () => {
    await expect(httpsRequest(port, "/healthz", { clientCert: expired })).rejects.toMatchObject(
      refusedWith("CERTIFICATE_EXPIRED"),
    );
  });

  it("a reload (SIGHUP, vecto tls renew) takes a new client CA file for new connections; one that is no CA is refused and the old one kept", async () => {
    const reloader = new TlsReloader(
      config.tls,
      server,
      new ServedCertificate(describeCertificate(readTlsFiles(config.tls).cert)),
      createLogger("silent"),
      async () => {},
    );
    const leaf = trusted.cert;
    writeFileSync(caFile, leaf);
    const refused: TlsReloadOutcome = await reloader.reload("test");
    expect(refused).toMatchObject({ ok: false, refused: expect.stringMatching(/is not a CA certificate/) });
    expect((await httpsRequest(port, "/healthz", { clientCert: trusted })).status).toBe(200);

    const nextCa = await certificateAuthority("vecto test client CA (next)");
    const nextClient = await clientCertificate("reverse-proxy.example", nextCa);
    writeFileSync(caFile, nextCa.cert);
    expect(await reloader.reload("test")).toMatchObject({ ok: true });
    expect((await httpsRequest(port, "/healthz", { clientCert: nextClient })).status).toBe(200);
    await expect(httpsRequest(port, "/healthz", { clientCert: trusted })).rejects.toMatchObject(
      refusedWith("UNKNOWN_CA"),
    );
    await expect(httpsRequest(port, "/healthz")).rejects.toMatchObject(refusedWith("CERTIFICATE_REQUIRED"));

    writeFileSync(caFile, ca.cert);
    expect(await reloader.reload("test")).toMatchObject({ ok: true });
    expect((await httpsRequest(port, "/healthz", { clientCert: trusted })).status).toBe(200);
  });

  describe("VECTO_TLS_CLIENT_CA is checked before the listener starts", () => {
    it("names an unreadable file, a file without certificates, and a certificate that is no CA", () => {
      expect(() => readClientCa(join(dir.path, "absent.pem"))).toThrow(
        new ConfigError(`VECTO_TLS_CLIENT_CA: cannot read ${join(dir.path, "absent.pem")}`),
      );
      const garbage = join(dir.path, "garbage.pem");
      writeFileSync(garbage, "not a certificate\n");
      expect(() => readClientCa(garbage)).toThrow(/^VECTO_TLS_CLIENT_CA: .* holds no PEM certificate$/);
      const leaf = join(dir.path, "leaf.pem");
      writeFileSync(leaf, trusted.cert);
      expect(() => readClientCa(leaf)).toThrow(
        /^VECTO_TLS_CLIENT_CA: certificate 1 in .* is not a CA certificate \(CN=reverse-proxy.example\)$/,
      );
      expect(readClientCa(caFile).subjects).toEqual(["CN=vecto test client CA"]);
    });

    it("`vecto doctor` runs the same check", async () => {
      const leaf = join(dir.path, "leaf-for-doctor.pem");
      writeFileSync(leaf, trusted.cert);
      const env = { VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(dir.path, "data") };
      const check = async (file: string): Promise<unknown> =>
        (await runChecks(loadConfig({ ...env, VECTO_TLS_CLIENT_CA: file }, dir.path))).find(
          (c) => c.name === "tls client ca",
        );
      expect(await check(caFile)).toEqual({
        name: "tls client ca",
        ok: true,
        detail: `${caFile}: CN=vecto test client CA`,
      });
      expect(await check(leaf)).toMatchObject({
        ok: false,
        detail: expect.stringContaining("is not a CA certificate"),
      });
      expect((await runChecks(loadConfig(env, dir.path))).map((c) => c.name)).not.toContain("tls client ca");
    });

    it("`vecto serve` stops with one line when the file cannot be read", () => {
      const cwd = testDir();
      const result = runCli(["serve"], {
        cwd,
        env: { VECTO_LISTEN: "127.0.0.1:0", VECTO_TLS_CLIENT_CA: join(cwd, "missing-ca.pem") },
      });
      expect(result.status).toBe(1);
      expect(result.stderr.trim().split("\n").at(-1)).toBe(
        `vecto: VECTO_TLS_CLIENT_CA: cannot read ${join(cwd, "missing-ca.pem")}`,
      );
    });
  });
});
