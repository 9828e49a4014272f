/**
 * The air-gapped proof (issue 7.6, issue 8.6): the appliance, installed by installer/install.sh into
 * a throwaway root exactly as install-root.test.ts does, runs the full smoke flow inside a network
 * namespace that has only loopback, and makes no connection attempt to anything but loopback.
 *
 * How:
 * - `unshare --net` gives a new network namespace with only `lo` (brought up with `ip link set lo
 *   up`): no other interface, no route, no DNS server reachable. Everything runs inside it: the
 *   installer, the appliance (`install.sh exec serve`, the unit's user, environment and
 *   credentials), its CLI, and the smoke client (test/installer/airgap-smoke.mjs, plain node). One
 *   namespace for all, entered once: the client reaches the server over the namespace's loopback,
 *   and no process of the flow has a way out even if it tried.
 * - That whole process tree runs under `strace -f` (connect, sendto, sendmsg, sendmmsg, bind,
 *   socket, openat, and the exec/clone calls that say which program each pid is). Working offline
 *   is not enough: a program could try the network, fail, and carry on. The trace shows every
 *   attempt, failed ones included; test/installer/strace-connections.ts reads it.
 * - What must hold: every destination of connect/sendto/sendmsg/sendmmsg is loopback (127.0.0.0/8,
 *   ::1) and never port 53; the appliance's processes use nothing else at all (in this flow, not
 *   even loopback: their one socket call is the listener's bind on the configured 127.0.0.1:8443)
 *   and make no datagram socket; the installer's account tools use only the local destinations in
 *   EXPECTED_LOCAL (nscd, syslog, kernel audit), each with its reason.
 * - The parser is proven to see what it must: the client's connects to 127.0.0.1:8443 appear once
 *   per request it made; the appliance's bind appears; a probe process in the same namespace and
 *   trace tries 192.0.2.1:443 and a DNS query to 192.0.2.53 (both fail: no route), and the same
 *   assertion applied to the probe's calls fails naming both. The parser is also tested on sample
 *   lines. Checked by hand: a build whose `serve` connects to 192.0.2.1:443, or looks up a host
 *   name, passes every functional step here and fails the trace checks, naming /opt/vecto/bin/vecto.
 *
 * The license: the binary trusts only the vendor keys compiled into it (src/license/vendor-keys.ts;
 * the private half of the committed key does not exist), so no test can make a license the built
 * binary accepts without weakening the product. Acceptance is tested in-process with a test vendor
 * key (test/integration/license.test.ts, licensing-tool.test.ts); here the air-gapped binary gets a
 * license signed by a test key and must refuse it clearly (422 unknown-key through the API, exit 1
 * with the one-line reason from `vecto license install`) and stay unlicensed, which exercises
 * the same parse and signature check offline. The usage report is exported through the API and the
 * CLI and verified with the vendor's own check (verifyUsageReport).
 *
 * Needs root (useradd, chown, chroot, unshare, strace). CI runs as root and installs strace and
 * iproute2 (installed by test/system-tools.sh). VECTO_AIRGAP_KEEP=1 keeps the root, strace.log and results.json to look at.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dayOf, addDays, verifyUsageReport, type UsageReport } from "../../src/usage/report-format.js";
import { testVendor } from "../license-helpers.js";
import {
  applianceBinary,
  hasCommand,
  isRoot,
  makeBundle,
  minimalRoot,
  removeApplianceBinary,
  ROOT,
  run,
  signingKey,
} from "./fixture.js";
import { tempDir } from "../helpers.js";
import {
  assertOnlyLoopback,
  describe as describeDestination,
  parseStrace,
  tally,
  violation,
  type Allowance,
  type SocketCall,
  type Trace,
} from "./strace-connections.js";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const DRIVER = join(ROOT, "test", "installer", "airgap-smoke.mjs");
const APPLIANCE = "/opt/vecto/bin/vecto";
const PORT = 8443; // the installer's default listen address, 127.0.0.1:8443: the namespace is ours alone
const SYSCALLS = "connect,sendto,sendmsg,sendmmsg,bind,socket,openat,execve,clone,clone3,fork,vfork";
/**
 * Local destinations (never IP) that processes of the flow other than the appliance may use, each
 * with its reason: all come from the installer's account tools and are part of this machine. The
 * appliance itself may use none (asserted with an empty policy): it logs to stdout (systemd's
 * journal takes it from there), and SQLite, argon2 and the addons use no sockets.
 */
const EXPECTED_LOCAL: readonly Allowance[] = [
  {
    destination: "unix:/var/run/nscd/socket",
    programs: ["useradd", "groupadd", "chown", "chroot"],
    why: "glibc's name service switch asks nscd (the local user/group cache daemon) before reading /etc/passwd and /etc/group, when the installer's tools resolve the vecto user and group; nscd does not run here (ENOENT)",
  },
  {
    destination: "unix:/dev/log",
    programs: ["useradd", "groupadd"],
    why: "shadow's useradd/groupadd log the new account to the local syslog socket; absent here (ENOENT)",
  },
  {
    destination: "netlink:kernel",
    programs: ["useradd", "groupadd"],
    why: "shadow's useradd/groupadd send a Linux audit record (NETLINK_AUDIT) about the new account to the kernel",
  },
];

const ROOT_USER = { email: "root@example.com", name: "Root Operator", password: "violet-anchor-quartz-meadow-42" };
const TENANT = {
  slug: "airgap",
  name: "Air-gapped Customer",
  admin: { email: "admin@airgap.example", name: "Tenant Admin", password: "copper-lantern-harbor-thistle-17" },
};

interface Step {
  name: string;
  method?: string;
  path?: string;
  status: number | null;
  json?: Record<string, unknown> & { detail?: string; reason?: string; state?: string };
  text?: string;
  error?: string;
  cli?: string;
  stdout?: string;
  stderr?: string;
}

interface Results {
  pid: number;
  namespace: { interfaces: string[]; ipv4Routes: string[] };
  probe: { pid?: number; tcp?: string; dns?: string; error?: string };
  install: { status: number | null; stdout: string; stderr: string };
  ready?: { status: number };
  steps: Step[];
  requests: number;
  serve?: { code: number | null; signal: string | null; output: string };
  timings: Record<string, number>;
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// The parser, on lines strace 6.1 printed (the external ones from a namespace without a route).

describe("strace connection parser", () => {
  const sample = [
    '5644<getent> connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)',
    '5644<getent> connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = -1 ENETUNREACH (Network is unreachable)',
    '5645<node> connect(19, {sa_family=AF_INET, sin_port=htons(8443), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)',
    '6951<node> connect(19, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 EADDRNOTAVAIL (Cannot assign requested address)',
    '6951<node> connect(19, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH (Network is unreachable)',
    '6951<node> connect(19, {sa_family=AF_INET6, sin6_port=htons(1), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED (Connection refused)',
    '6951<node> sendmsg(19, {msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("192.0.2.53")}, msg_namelen=16, msg_iov=[{iov_base="{sa_family=AF_INET, x}", iov_len=22}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = -1 ENETUNREACH (Network is unreachable)',
    // glibc's resolver with a loopback name server: still DNS.
    "15952<getent> sendto(3, [{nlmsg_len=20, nlmsg_type=RTM_GETADDR, nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP, nlmsg_seq=1795881962, nlmsg_pid=0}, {ifa_family=AF_UNSPEC, ...}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20",
    '15952<getent> connect(3, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
    '15952<getent> sendmmsg(3, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\\236R\\1\\0\\0\\1\\0\\0\\0\\0\\0\\0\\7example\\3com\\0\\0\\1\\0\\1", iov_len=29}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=29}, {msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="\\213^\\1\\0\\0\\1\\0\\0\\0\\0\\0\\0\\7example\\3com\\0\\0\\34\\0\\1", iov_len=29}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}], 2, MSG_NOSIGNAL) = 1',
  ];

  it("reads family, address, port and result; an external address fails the assertion, loopback passes", () => {
    const { calls } = parseStrace(sample.join("\n"));
    expect(calls.map((c) => `${c.pid} ${c.syscall} ${describeDestination(c)} ${c.result.split(" (")[0]}`)).toEqual([
      "5644 connect unix:/var/run/nscd/socket -1 ENOENT",
      "5644 connect 10.255.255.53:53 -1 ENETUNREACH",
      "5645 connect 127.0.0.1:8443 -1 EINPROGRESS",
      "6951 connect [2001:db8::1]:443 -1 EADDRNOTAVAIL",
      "6951 connect [::ffff:192.0.2.1]:443 -1 ENETUNREACH",
      "6951 connect [::1]:1 -1 ECONNREFUSED",
      "6951 sendmsg 192.0.2.53:53 -1 ENETUNREACH",
      "15952 sendto netlink:kernel 20",
      "15952 connect 127.0.0.1:53 0",
      "15952 sendmmsg none 1",
      "15952 sendmmsg none 1",
    ]);
    expect(calls.map((c) => violation(c))).toEqual([
      "AF_UNIX socket unix:/var/run/nscd/socket is not expected from ?",
      "DNS (port 53) to 10.255.255.53:53",
      undefined,
      "outbound to [2001:db8::1]:443",
      "outbound to [::ffff:192.0.2.1]:443",
      undefined,
      "DNS (port 53) to 192.0.2.53:53",
      "sendto to netlink:kernel is not expected from ?",
      "DNS (port 53) to 127.0.0.1:53",
      undefined, // no address: the socket's peer, judged at its connect just above
      undefined,
    ]);
    // One external line among loopback ones is enough to fail; a failed attempt counts as much as a successful one.
    const external = parseStrace(
      [
        sample[2],
        '77<vecto> connect(21, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("203.0.113.7")}, 16) = -1 ENETUNREACH (Network is unreachable)',
      ].join("\n"),
    ).calls;
    expect(() => assertOnlyLoopback(external)).toThrow(
      /1 connection attempt\(s\) other than loopback:\n {2}outbound to 203\.0\.113\.7:443 by pid 77/,
    );
    expect(() => assertOnlyLoopback(parseStrace(sample[2] as string).calls)).not.toThrow();
    // An expected local destination passes only for the programs it is listed for; a call the trace
    // cannot attribute to a program (no execve seen for its pid) never does.
    const getent = `5643<sh> execve("/usr/bin/getent", ["getent", "hosts", "example.com"], 0x55d1 /* 39 vars */) = 0\n${sample[0]}`;
    const nscd: Allowance = { destination: "unix:/var/run/nscd/socket", programs: ["getent"], why: "test" };
    expect(() => assertOnlyLoopback(parseStrace(getent).calls, { allow: [nscd] })).toThrow(
      /AF_UNIX socket unix:\/var\/run\/nscd\/socket is not expected from \?/,
    );
    const attributed = `5643<sh> execve("/usr/bin/getent", ["getent", "hosts", "example.com"], 0x55d1 /* 39 vars */) = 0\n${(sample[0] as string).replace("5644<getent>", "5643<getent>")}`;
    expect(() => assertOnlyLoopback(parseStrace(attributed).calls, { allow: [nscd] })).not.toThrow();
    expect(() =>
      assertOnlyLoopback(parseStrace(attributed).calls, { allow: [{ ...nscd, programs: ["chown"] }] }),
    ).toThrow(/is not expected from getent/);
  });

  it("joins split calls, ignores addresses inside payloads, and attributes pids to programs", () => {
    const trace = parseStrace(
      [
        '100<strace> execve("/usr/bin/sh", ["sh", "-c", "x"], 0x7ffc /* 39 vars */) = 0',
        "100<sh> vfork( <unfinished ...>",
        '101<sh> execve("/opt/vecto/bin/vecto", ["/opt/vecto/bin/vecto", "serve"], 0x55 /* 9 vars */ <unfinished ...>',
        "100<sh> <... vfork resumed>)           = 101<vecto>",
        "101<vecto> <... execve resumed>)      = 0",
        "101<vecto> clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD, child_tid=0x7f, parent_tid=0x7f, exit_signal=0, stack=0x7f, stack_size=0x7ff0, tls=0x7f} => {parent_tid=[102]}, 88) = 102",
        '102<vecto> connect(22, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("198.51.100.9")}, 16 <unfinished ...>',
        '101<vecto> bind(21, {sa_family=AF_INET, sin_port=htons(8443), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        "102<vecto> <... connect resumed>)      = -1 ENETUNREACH (Network is unreachable)",
        '100<sh> sendto(3, "{sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\\"8.8.8.8\\")}", 64, MSG_NOSIGNAL, NULL, 0) = 64',
        "100<sh> socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, IPPROTO_IP) = 19",
        '100<sh> openat(AT_FDCWD, "/etc/resolv.conf", O_RDONLY|O_CLOEXEC) = 3',
        "102<vecto> +++ exited with 0 +++",
      ].join("\n"),
    );
    expect(trace.calls.map((c) => [c.pid, c.program, c.syscall, describeDestination(c), c.result])).toEqual([
      [102, "/opt/vecto/bin/vecto", "connect", "198.51.100.9:80", "-1 ENETUNREACH (Network is unreachable)"],
      [101, "/opt/vecto/bin/vecto", "bind", "127.0.0.1:8443", "0"],
      [100, "/usr/bin/sh", "sendto", "none", "64"],
    ]);
    // 102 is a thread of 101 (CLONE_THREAD): its calls count for process 101.
    expect(trace.calls.map((c) => c.tgid)).toEqual([101, 101, 100]);
    expect(trace.sockets).toEqual([
      { pid: 100, tgid: 100, program: "/usr/bin/sh", family: "AF_INET6", type: "SOCK_STREAM" },
    ]);
    expect(trace.opens).toEqual([
      { pid: 100, tgid: 100, program: "/usr/bin/sh", path: "/etc/resolv.conf", result: "3" },
    ]);
    expect(() => assertOnlyLoopback(trace.calls)).toThrow(
      /outbound to 198\.51\.100\.9:80 by pid 102 \(\/opt\/vecto\/bin\/vecto\)/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The installed appliance in a loopback-only namespace.

describe.skipIf(!isRoot)(
  "the installed appliance, air-gapped (needs root: unshare --net, strace, useradd, chroot)",
  () => {
    let work: string;
    let target: string;
    let results: Results;
    let trace: Trace;
    let vendorKid: string;
    let apiReport: UsageReport;
    const today = dayOf(new Date());
    const from = addDays(today, -1);
    const reportFile = "/var/lib/vecto/airgap-usage-report.json";
    let elapsed = 0;

    const step = (name: string): Step => {
      const s = results.steps.find((x) => x.name === name);
      if (!s)
        throw new Error(
          `the flow did not reach "${name}": ${results.error ?? ""}\n${JSON.stringify(results, null, 2).slice(0, 4000)}`,
        );
      return s;
    };
    const ofProgram = (program: string): SocketCall[] =>
      trace.calls.filter((c) => c.program === program && c.tgid !== results.probe.pid);
    const notProbe = (): SocketCall[] => trace.calls.filter((c) => c.tgid !== results.probe.pid);
    const label = (program: string): string =>
      program === APPLIANCE ? "vecto" : program === process.execPath ? "node (smoke client)" : program;

    beforeAll(async () => {
      for (const tool of ["unshare", "strace", "ip"])
        if (!hasCommand(tool))
          throw new Error(`${tool} is not installed (npm test installs strace and iproute2; unshare is util-linux)`);
      const ns = run("unshare", ["--net", "--", "true"]);
      if (ns.status !== 0)
        throw new Error(
          `unshare --net is not permitted here (it needs CAP_SYS_ADMIN: root on the host or a privileged container): ${ns.stderr.trim()}`,
        );
      work = tempDir("vecto-airgap-").path;
      const key = signingKey(work);
      const binary = applianceBinary();
      const bundle = makeBundle(join(work, "bundle"), { binary, version: VERSION, key: key.privateKey });
      target = minimalRoot(join(work, "root"), binary);
      // A license signed by a vendor key this build does not carry; readable by the service user in the root.
      const vendor = testVendor();
      vendorKid = vendor.key.kid;
      const licenseText = vendor.sign({ licenseId: "LIC-AIRGAP-1", deploymentMode: "appliance" });
      writeFileSync(join(target, "tmp", "airgap-test-vendor.lic"), licenseText, { mode: 0o644 });

      const config = join(work, "airgap.json");
      const out = join(work, "results.json");
      const traceFile = join(work, "strace.log");
      writeFileSync(
        config,
        JSON.stringify({
          root: target,
          bundle,
          pubkey: key.publicKeyFile,
          port: PORT,
          out,
          licenseText,
          licenseFile: "/tmp/airgap-test-vendor.lic",
          from,
          to: today,
          rootUser: ROOT_USER,
          tenant: TENANT,
          reportFile,
        }),
      );

      // One namespace for the whole flow; its own process group, so a hang ends with everything in it.
      const t0 = Date.now();
      const inner = `ip link set lo up && exec strace -f -Y --seccomp-bpf -e trace=${SYSCALLS} -o "$0" "$@"`;
      const child = spawn(
        "unshare",
        ["--net", "--", "/bin/sh", "-c", inner, traceFile, process.execPath, DRIVER, config],
        { detached: true, stdio: ["ignore", "pipe", "pipe"] },
      );
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr.on("data", (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), "SIGKILL");
        } catch {
          // already gone
        }
      }, 240_000);
      const status = await new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      clearTimeout(timer);
      elapsed = Date.now() - t0;
      if (status !== 0) throw new Error(`unshare/strace/driver exited with ${status}:\n${output}`);
      results = JSON.parse(readFileSync(out, "utf8")) as Results;
      if (results.error) throw new Error(`the smoke flow failed: ${results.error}`);
      trace = parseStrace(readFileSync(traceFile, "utf8"));
    }, 600_000);

    afterAll(() => {
      // VECTO_AIRGAP_KEEP=1 keeps the root, the trace (strace.log) and the results for a look.
      if (process.env.VECTO_AIRGAP_KEEP === "1") console.log(`[airgap] kept ${work}`);
      else if (work) rmSync(work, { recursive: true, force: true });
      removeApplianceBinary();
    });

    it("the namespace has only loopback and no route: the probe's TCP connect and DNS query both fail", () => {
      expect(results.namespace.interfaces).toEqual(["lo"]);
      expect(results.namespace.ipv4Routes).toEqual([]);
      expect(results.probe.pid, JSON.stringify(results.probe)).toBeGreaterThan(0);
      expect(results.probe.tcp).toBe("ENETUNREACH");
      expect(results.probe.dns).toMatch(/^E[A-Z]+$/); // c-ares: the name server cannot be reached
    });

    it("installs from the signed bundle with no network", () => {
      const r = results.install;
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain("Signature: SHA256SUMS is signed by");
      expect(r.stdout).toContain("vecto doctor: every check passed");
      expect(r.stdout).toMatch(/setup token: vst_\S+/);
      expect(r.stdout).toContain(`API URL: https://127.0.0.1:${PORT}/`);
    });

    it("serves: setup with the one-time token, login, tenant, project and node written and read back", () => {
      expect(results.ready?.status, results.serve?.output).toBe(200);
      expect(step("setup").status).toBe(201);
      expect(step("login (platform root)").status).toBe(200);
      expect(step("create tenant").status, JSON.stringify(step("create tenant").json)).toBe(201);
      expect(step("login (tenant admin)").status).toBe(200);
      expect(step("create project").status).toBe(201);
      expect(step("create node").status, JSON.stringify(step("create node").json)).toBe(201);
      const node = step("read node");
      expect(node.status).toBe(200);
      expect(node.json).toMatchObject({
        node: { type: "note", title: "Written with no network", body: "loopback only" },
      });
    });

    it("license: unlicensed (evaluation); a license from a key the binary does not carry is refused with the reason, by the API and the CLI", () => {
      expect(step("license status").json).toMatchObject({ state: "unlicensed", evaluation: true, license: null });
      const put = step("install license");
      expect(put.status).toBe(422);
      expect(put.json).toMatchObject({ type: "urn:vecto:problem:rejected", reason: "unknown-key" });
      const reason = `license refused: the license is signed with key ${vendorKid}, which this build does not trust (a license from another vendor key, or a build that predates the key)`;
      expect(put.json?.detail).toBe(reason);
      const cli = step("cli license install");
      expect(cli.status).toBe(1);
      expect(cli.stderr?.trim().split("\n").at(-1)).toBe(`vecto: ${reason}`);
      const show = step("cli license show");
      expect(show.status, show.stderr).toBe(0);
      expect(JSON.parse(show.stdout ?? "")).toMatchObject({ state: "unlicensed", license: null });
    });

    it("usage: the signed report through the API and `vecto usage export`, verified by the vendor's check", () => {
      const api = step("usage report");
      expect(api.status, JSON.stringify(api.json)).toBe(200);
      apiReport = api.json as unknown as UsageReport;
      expect(apiReport).toMatchObject({ format: "vecto-usage-report-v1", period: { from, to: today }, license: null });
      expect(verifyUsageReport(apiReport)).toMatchObject({ ok: true, problems: [] });

      const snapshot = step("cli usage snapshot");
      expect(snapshot.status, snapshot.stderr).toBe(0);
      expect(["recorded", "exists"]).toContain((JSON.parse(snapshot.stdout ?? "") as { status: string }).status);
      const exported = step("cli usage export");
      expect(exported.status, exported.stderr).toBe(0);
      const file = join(target, reportFile);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const report = JSON.parse(readFileSync(file, "utf8")) as UsageReport;
      expect(report.installationId).toBe(apiReport.installationId);
      expect(report.installationPublicKey).toBe(apiReport.installationPublicKey);
      // The snapshot of yesterday (UTC), taken now by `vecto usage snapshot` or by serve's scheduler.
      expect(report.snapshots).toHaveLength(1);
      const verified = verifyUsageReport(report, { pinnedKey: Buffer.from(apiReport.installationPublicKey, "base64") });
      expect(verified).toMatchObject({ ok: true, problems: [], days: 1 });
    });

    it("stops cleanly on SIGTERM", () => {
      expect(results.serve?.code, results.serve?.output).toBe(0);
    });

    it("the trace saw the flow: the appliance's bind on 127.0.0.1:8443, one client connect per request", () => {
      // The appliance ran (execve of the installed binary, as the service user via chroot) and listened where configured.
      expect([...trace.programs.values()]).toContain(APPLIANCE);
      const binds = ofProgram(APPLIANCE).filter((c) => c.syscall === "bind");
      expect(binds.map((c) => `${describeDestination(c)} ${c.result}`)).toContain(`127.0.0.1:${PORT} 0`);
      for (const b of binds)
        expect(b.family === "AF_INET" || b.family === "AF_INET6" ? describeDestination(b) : "not IP").toMatch(
          /^(127\.0\.0\.1|\[::1\]):8443$/,
        );
      // The smoke client's connects are exactly its requests (one connection each): the parser misses none.
      const client = trace.calls.filter((c) => c.tgid === results.pid && c.syscall === "connect");
      expect(client.length).toBe(results.requests);
      expect(new Set(client.map(describeDestination))).toEqual(new Set([`127.0.0.1:${PORT}`]));
    });

    it("no connection attempt but loopback, from any process of the flow; the probe's attempts are caught", () => {
      // The appliance (every vecto process: install-time init/doctor/setup-token, serve, the CLI): loopback only, no AF_UNIX at all.
      const appliance = notProbe().filter((c) => c.program === APPLIANCE);
      expect(appliance.length).toBeGreaterThan(0);
      assertOnlyLoopback(appliance);
      // In this flow it does not even use loopback: its only socket call is its listener's bind.
      expect(appliance.filter((c) => c.syscall !== "bind").map((c) => c.line)).toEqual([]);
      // Everything else in the namespace (installer, its tools, the smoke client): loopback or an expected local destination.
      assertOnlyLoopback(notProbe(), { allow: EXPECTED_LOCAL });
      // The same check, on the probe's calls from this very trace, fails and names both attempts.
      const probe = trace.calls.filter((c) => c.tgid === results.probe.pid);
      expect(() => assertOnlyLoopback(probe, { allow: EXPECTED_LOCAL })).toThrow(
        /outbound to 192\.0\.2\.1:443 by pid \d+/,
      );
      expect(() => assertOnlyLoopback(probe, { allow: EXPECTED_LOCAL })).toThrow(
        /DNS \(port 53\) to 192\.0\.2\.53:53 by pid \d+/,
      );

      // What was seen, for the record (docs/install.md, "Air-gapped operation").
      const count = (keys: string[]): string =>
        [...keys.reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>())]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, n]) => `  ${n} x ${k}`)
          .join("\n");
      const calls = [...tally(notProbe(), label)].map(([k, n]) => `  ${n} x ${k}`).join("\n");
      const sockets = count(
        trace.sockets
          .filter((x) => x.tgid !== results.probe.pid)
          .map((x) => `${label(x.program)} socket(${x.family}, ${x.type})`),
      );
      const timings = Object.entries(results.timings)
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}s`)
        .join(", ");
      console.log(
        `[airgap] ${(elapsed / 1000).toFixed(1)} s in the namespace (${timings})\n[airgap] socket calls, probe excluded:\n${calls}\n[airgap] sockets created, probe excluded:\n${sockets}`,
      );
    });

    it("DNS was never attempted: no port 53, no UDP socket from the appliance; resolv.conf read only by Node's resolver set-up", () => {
      expect(
        notProbe()
          .filter((c) => c.port === 53)
          .map((c) => c.line),
      ).toEqual([]);
      // DNS goes over UDP first: the appliance never even made a datagram socket.
      expect(
        trace.sockets
          .filter((x) => x.program === APPLIANCE && x.type !== "SOCK_STREAM")
          .map((x) => `${x.family} ${x.type}`),
      ).toEqual([]);
      // Node's net.Server.listen(port, host) loads the dns module, whose c-ares channel reads
      // /etc/resolv.conf (absent in the root: ENOENT) and sends nothing. That read by `vecto serve` is
      // the only one; no other process of the flow but the probe opened it.
      const resolvConf = trace.opens.filter((o) => o.tgid !== results.probe.pid && /(^|\/)resolv\.conf$/.test(o.path));
      expect(resolvConf.map((o) => `${o.program} ${o.path} ${o.result.split(" (")[0]}`)).toEqual([
        `${APPLIANCE} /etc/resolv.conf -1 ENOENT`,
      ]);
      // The probe's query did go to its name server, so the trace would have shown one.
      expect(trace.calls.some((c) => c.tgid === results.probe.pid && c.port === 53)).toBe(true);
    });
  },
);
