#!/usr/bin/env node
/**
 * The air-gapped smoke flow, run by test/installer/airgap.test.ts INSIDE a network namespace that
 * has only loopback (`unshare --net`, lo up), under strace. Plain JavaScript with node: built-ins
 * only, so that nothing but this script, the installer and the appliance runs in the namespace.
 *
 *   node airgap-smoke.mjs CONFIG.json      (writes the results to config.out; exit 0 once written)
 *
 * Steps, each recorded with what it returned (the test judges them):
 *   1. the namespace: its interfaces and IPv4 routes (/proc/self/net: this process's namespace);
 *   2. a probe, in its own process: a TCP connect to 192.0.2.1:443 and a DNS query to 192.0.2.53
 *      (TEST-NET-1), both expected to fail: no route out; its calls are the trace's positive control;
 *   3. `install.sh install --root R --pubkey K` from the bundle (listens on 127.0.0.1:8443);
 *   4. `install.sh exec --root R serve` (the installed installer: the unit's user, environment and
 *      credentials), until GET /readyz answers 200;
 *   5. over HTTPS (certificate checked against the appliance's own generated one): setup with the
 *      one-time token, login, a tenant, its admin's login, a project, a node (and read back),
 *      the license (GET; PUT of the test license), the usage report;
 *   6. the CLI as the service: license install / show, usage snapshot / export;
 *   7. SIGTERM to serve, and its exit status.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { root, bundle, pubkey, port, out, licenseText, licenseFile, from, to, rootUser, tenant, reportFile } = config;
const installed = join(root, "opt", "vecto", "installer", "install.sh");

const results = { pid: process.pid, steps: [], requests: 0, timings: {} };
const started = Date.now();
const mark = (name) => (results.timings[name] = Date.now() - started);
const save = () => writeFileSync(out, JSON.stringify(results, null, 2));

function sh(args, options = {}) {
  const t0 = Date.now();
  const r = spawnSync("/bin/sh", args, { encoding: "utf8", timeout: 180_000, ...options });
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? "",
    error: r.error?.message,
    ms: Date.now() - t0,
  };
}

/** One HTTPS request over a new connection (agent: false), so that requests and connect() calls pair up. */
function https(method, path, { token, body, ca } = {}) {
  results.requests++;
  return new Promise((resolve) => {
    const headers = {
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method,
        headers,
        agent: false,
        ca,
        rejectUnauthorized: ca !== undefined,
        timeout: 30_000,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, json, text: json === undefined ? text.slice(0, 2000) : undefined });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ status: 0, error: error.code ?? error.message }));
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

function namespace() {
  const dev = readFileSync("/proc/self/net/dev", "utf8")
    .split("\n")
    .slice(2)
    .map((l) => l.split(":")[0].trim())
    .filter(Boolean);
  const routes = readFileSync("/proc/self/net/route", "utf8").split("\n").slice(1).filter(Boolean);
  return { interfaces: dev, ipv4Routes: routes };
}

// The positive control: a TCP connect to TEST-NET-1 and a DNS query to a TEST-NET-1 name server
// (set explicitly, so it does not depend on this machine's resolv.conf or nsswitch.conf).
const PROBE = `
const net = require("node:net"), dns = require("node:dns");
const out = { pid: process.pid };
const s = net.connect({ host: "192.0.2.1", port: 443, timeout: 5000 });
s.on("connect", () => { out.tcp = "connected"; s.destroy(); query(); });
s.on("timeout", () => { out.tcp = "timeout"; s.destroy(); query(); });
s.on("error", (e) => { out.tcp = e.code; query(); });
function query() {
  const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers(["192.0.2.53"]);
  resolver.resolve4("airgap-probe.example.com", (e, a) => { out.dns = e ? e.code : "resolved " + a; console.log(JSON.stringify(out)); });
}
`;

async function main() {
  results.namespace = namespace();

  const probe = spawnSync(process.execPath, ["-e", PROBE], { encoding: "utf8", timeout: 30_000 });
  results.probe = probe.status === 0 ? JSON.parse(probe.stdout) : { error: probe.stderr || String(probe.error) };
  mark("probe");

  // 3. install
  const install = sh([join(bundle, "installer", "install.sh"), "install", "--root", root, "--pubkey", pubkey], {
    cwd: bundle,
  });
  results.install = install;
  mark("install");
  if (install.status !== 0) return;
  const setupToken = /setup token: (vst_\S+)/.exec(install.stdout)?.[1];

  // 4. serve, the way the unit runs it
  const serve = spawn("/bin/sh", [installed, "exec", "--root", root, "serve"], { stdio: ["ignore", "pipe", "pipe"] });
  let serveOutput = "";
  serve.stdout.on("data", (c) => (serveOutput += c));
  serve.stderr.on("data", (c) => (serveOutput += c));
  const exited = new Promise((resolve) => serve.once("exit", (code, signal) => resolve({ code, signal })));
  try {
    let ready;
    const until = Date.now() + 30_000;
    while (Date.now() < until && serve.exitCode === null) {
      ready = await https("GET", "/readyz");
      if (ready.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    results.ready = ready;
    mark("ready");
    if (ready?.status !== 200) return;

    // 5. the API, with the appliance's own certificate as the only trusted CA
    const ca = readFileSync(join(root, "var", "lib", "vecto", "tls", "cert.pem"));
    const step = async (name, method, path, options = {}) => {
      const r = await https(method, path, { ...options, ca });
      results.steps.push({ name, method, path, ...r });
      return r;
    };
    await step("setup", "POST", "/api/setup", { body: { token: setupToken, ...rootUser } });
    const rootToken = (
      await step("login (platform root)", "POST", "/api/auth/login", {
        body: { email: rootUser.email, password: rootUser.password },
      })
    ).json?.accessToken;
    await step("create tenant", "POST", "/api/tenants", {
      token: rootToken,
      body: { slug: tenant.slug, name: tenant.name, admin: tenant.admin },
    });
    const adminToken = (
      await step("login (tenant admin)", "POST", "/api/auth/login", {
        body: { tenant: tenant.slug, email: tenant.admin.email, password: tenant.admin.password },
      })
    ).json?.accessToken;
    const projectId = (
      await step("create project", "POST", "/api/projects", { token: adminToken, body: { name: "Air-gapped project" } })
    ).json?.project?.id;
    const nodeId = (
      await step("create node", "POST", `/api/projects/${projectId}/nodes`, {
        token: adminToken,
        body: { type: "note", title: "Written with no network", body: "loopback only" },
      })
    ).json?.node?.id;
    await step("read node", "GET", `/api/nodes/${nodeId}`, { token: adminToken });
    await step("license status", "GET", "/api/license", { token: rootToken });
    await step("install license", "PUT", "/api/license", { token: rootToken, body: { license: licenseText } });
    await step("usage report", "GET", `/api/usage/report?from=${from}&to=${to}`, { token: rootToken });
    mark("api");

    // 6. the CLI, as the service user with the unit's environment (install.sh exec)
    const cli = (name, args) =>
      results.steps.push({ name, cli: args.join(" "), ...sh([installed, "exec", "--root", root, ...args]) });
    cli("cli license install", ["license", "install", licenseFile]);
    cli("cli license show", ["license", "show", "--json"]);
    cli("cli usage snapshot", ["usage", "snapshot", "--json"]);
    cli("cli usage export", ["usage", "export", "--from", from, "--to", to, "--out", reportFile]);
    mark("cli");
  } finally {
    // 7. stop
    serve.kill("SIGTERM");
    results.serve = { ...(await exited), output: serveOutput };
    mark("stopped");
  }
}

try {
  await main();
} catch (error) {
  results.error = String(error?.stack ?? error);
}
save();
