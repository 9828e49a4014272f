/**
 * Reads an `strace -f -Y -e trace=connect,sendto,sendmsg,sendmmsg,bind,socket,openat,execve,clone,
 * clone3,fork,vfork` log (test/installer/airgap.test.ts) and answers: which process tried to reach
 * which address, and is any of it something other than loopback?
 *
 * Lines look like `1234<comm> connect(3, {sa_family=AF_INET, sin_port=htons(53),
 * sin_addr=inet_addr("10.0.0.1")}, 16) = -1 ENETUNREACH (...)` (`1234  connect(...)` without -Y).
 * A call interrupted by another process's line is split into `... <unfinished ...>` and
 * `1234<comm> <... connect resumed>) = 0`: the arguments are on the first half, the result on the
 * second. Quoted strings (payloads, paths) are masked before the structure is read, so a payload
 * that happens to contain `{sa_family=...}` is never mistaken for an address.
 *
 * Each call is attributed to a program: the last successful execve of its pid, else (a thread, or
 * a child that has not exec'd yet) its parent's program when it was cloned.
 */

export type SocketSyscall = "connect" | "sendto" | "sendmsg" | "sendmmsg" | "bind";
const SOCKET_SYSCALLS: readonly string[] = ["connect", "sendto", "sendmsg", "sendmmsg", "bind"];
const CLONES: readonly string[] = ["clone", "clone3", "fork", "vfork"];

/** Where a call sends to (or, for bind, the local address it takes). */
export interface Destination {
  /** AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, ...; "none" when the call names no address (a connected socket). */
  readonly family: string;
  /** IP address; the AF_UNIX path ("@name" for an abstract socket, "" for an unnamed one); the netlink port id (0: the kernel). */
  readonly address?: string;
  readonly port?: number;
}

export interface SocketCall extends Destination {
  readonly pid: number;
  /** The process (thread group) the pid belongs to: a thread's calls count for its process. */
  tgid: number;
  /** The command name strace printed (-Y), "" without it. */
  readonly comm: string;
  /** The executable the pid runs (see the module comment); "?" when the trace does not say. */
  program: string;
  readonly syscall: SocketSyscall;
  /** What the call returned: "0", "-1 ENETUNREACH", ... ; "?" when the trace ends before it returns. */
  result: string;
  readonly line: string;
}

export interface SocketCreation {
  readonly pid: number;
  tgid: number;
  program: string;
  /** AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, ... */
  readonly family: string;
  /** SOCK_STREAM, SOCK_DGRAM, ... (flags removed) */
  readonly type: string;
}

export interface FileOpen {
  readonly pid: number;
  tgid: number;
  program: string;
  readonly path: string;
  result: string;
}

export interface Trace {
  readonly calls: SocketCall[];
  readonly sockets: SocketCreation[];
  readonly opens: FileOpen[];
  /** pid -> the program it ran last (for reports). */
  readonly programs: Map<number, string>;
}

/** Replaces the characters inside every double-quoted string (strace escapes `"` and `\` in them) with "_". */
export function maskQuoted(text: string): string {
  let out = "";
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (inQuote) {
      if (ch === "\\") {
        out += "__";
        i++;
      } else if (ch === '"') {
        out += ch;
        inQuote = false;
      } else out += "_";
    } else {
      if (ch === '"') inQuote = true;
      out += ch;
    }
  }
  return out;
}

/** [start, end) of each top-level argument between `open` (the index of "(") and its closing ")" in masked text. */
function splitArgs(masked: string, open: number): { args: [number, number][]; close: number } {
  const args: [number, number][] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open + 1; i < masked.length; i++) {
    const ch = masked[i];
    if (ch === "(" || ch === "{" || ch === "[") depth++;
    else if (ch === "}" || ch === "]") depth--;
    else if (ch === ")") {
      if (depth === 0) {
        args.push([start, i]);
        return { args, close: i };
      }
      depth--;
    } else if (ch === "," && depth === 0) {
      args.push([start, i]);
      start = i + 1;
    }
  }
  // An unfinished call: the arguments printed so far.
  args.push([start, masked.length]);
  return { args, close: -1 };
}

/** The index just after the `{...}` (or `[...]`) that starts at `from` in masked text. */
function matching(masked: string, from: number): number {
  let depth = 0;
  for (let i = from; i < masked.length; i++) {
    const ch = masked[i];
    if (ch === "{" || ch === "[" || ch === "(") depth++;
    else if (ch === "}" || ch === "]" || ch === ")") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return masked.length;
}

/** Decodes one strace sockaddr, `{sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("1.2.3.4")}`. */
export function parseSockaddr(text: string): Destination {
  const family = /sa_family=(\w+)/.exec(text)?.[1];
  if (!family) return { family: "unknown" };
  if (family === "AF_INET") {
    return {
      family,
      address: /inet_addr\("([^"]*)"\)/.exec(text)?.[1] ?? "?",
      port: Number(/sin_port=htons\((\d+)\)/.exec(text)?.[1] ?? NaN),
    };
  }
  if (family === "AF_INET6") {
    return {
      family,
      address: /inet_pton\(AF_INET6, "([^"]*)"/.exec(text)?.[1] ?? "?",
      port: Number(/sin6_port=htons\((\d+)\)/.exec(text)?.[1] ?? NaN),
    };
  }
  if (family === "AF_UNIX") {
    const path = /sun_path=(@?)"((?:[^"\\]|\\.)*)"/.exec(text);
    return { family, address: path ? `${path[1]}${path[2]}` : "" };
  }
  if (family === "AF_NETLINK") return { family, address: /nl_pid=(\d+)/.exec(text)?.[1] ?? "?" };
  return { family };
}

/** The sockaddrs that follow each `msg_name=` in a sendmsg/sendmmsg argument (masked/original pair). */
function msgNames(masked: string, original: string): Destination[] {
  const out: Destination[] = [];
  for (const m of masked.matchAll(/msg_name=/g)) {
    const at = (m.index ?? 0) + m[0].length;
    if (masked.startsWith("NULL", at)) out.push({ family: "none" });
    else if (masked[at] === "{") out.push(parseSockaddr(original.slice(at, matching(masked, at))));
  }
  return out.length > 0 ? out : [{ family: "none" }];
}

/** The destinations one socket call names. */
function destinations(
  syscall: SocketSyscall,
  masked: string,
  original: string,
  args: [number, number][],
): Destination[] {
  const arg = (i: number): { m: string; o: string } | undefined => {
    const a = args[i];
    return a ? { m: masked.slice(a[0], a[1]).trim(), o: original.slice(a[0], a[1]).trim() } : undefined;
  };
  switch (syscall) {
    case "connect":
    case "bind": {
      const a = arg(1);
      return [a && a.m.startsWith("{") ? parseSockaddr(a.o) : { family: "unknown" }];
    }
    case "sendto": {
      const a = arg(4);
      return [
        !a || a.m === "NULL" || a.m === ""
          ? { family: "none" }
          : a.m.startsWith("{")
            ? parseSockaddr(a.o)
            : { family: "unknown" },
      ];
    }
    case "sendmsg":
    case "sendmmsg": {
      const a = arg(1);
      return a ? msgNames(a.m, a.o) : [{ family: "unknown" }];
    }
  }
}

const LINE = /^(\d+)(?:<([^>]*)>)?\s+(.*)$/;

/** What a finished call returned: the text after its last `) = ` (found in the masked text). */
function resultOf(masked: string, text: string): string {
  let at = -1;
  let len = 0;
  for (const m of masked.matchAll(/\)\s+=\s+/g)) {
    at = m.index ?? -1;
    len = m[0].length;
  }
  return at < 0 ? "?" : text.slice(at + len).trim();
}

interface Event {
  readonly index: number;
  readonly kind: "exec" | "clone";
  readonly value: string | number;
}

/** Parses a whole strace log. */
export function parseStrace(text: string): Trace {
  const calls: SocketCall[] = [];
  const sockets: SocketCreation[] = [];
  const opens: FileOpen[] = [];
  // Per pid: the call waiting for its "resumed" line.
  const pending = new Map<number, { name: string; finish: (result: string) => void }>();
  // Per pid: successful execs (program path) and clones (child pid), by line index.
  const events = new Map<number, Event[]>();
  const parentOf = new Map<number, { parent: number; index: number; thread: boolean }>();
  const attributed: { pid: number; index: number; entry: { program: string; tgid: number } }[] = [];
  const addEvent = (pid: number, e: Event): void => {
    const list = events.get(pid) ?? [];
    list.push(e);
    events.set(pid, list);
  };

  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    const m = LINE.exec(line);
    if (!m) return;
    const pid = Number(m[1]);
    const comm = m[2] ?? "";
    const body = m[3] as string;

    // The second half of a split call: the result.
    const resumed = /^<\.\.\. (\w+) resumed>/.exec(body);
    if (resumed) {
      const result = resultOf(maskQuoted(body), body);
      const waiting = pending.get(pid);
      if (waiting && waiting.name === resumed[1]) {
        pending.delete(pid);
        waiting.finish(result);
      }
      return;
    }
    const call = /^(\w+)\(/.exec(body);
    if (!call) return;
    const name = call[1] as string;
    let masked = maskQuoted(body);
    let text = body;
    const unfinished = / <unfinished \.\.\.>$/.test(masked);
    if (unfinished) {
      masked = masked.slice(0, masked.lastIndexOf(" <unfinished ...>"));
      text = body.slice(0, masked.length);
    }
    const { args, close } = splitArgs(masked, name.length);
    const later = (finish: (result: string) => void): void => {
      if (unfinished) pending.set(pid, { name, finish });
      else finish(close >= 0 ? resultOf(masked, text) : "?");
    };
    const argText = (i: number): string => {
      const a = args[i];
      return a ? text.slice(a[0], a[1]).trim() : "";
    };

    if (SOCKET_SYSCALLS.includes(name)) {
      const syscall = name as SocketSyscall;
      const made = destinations(syscall, masked, text, args).map((d) => {
        const entry: SocketCall = { ...d, pid, tgid: pid, comm, program: "?", syscall, result: "?", line };
        calls.push(entry);
        attributed.push({ pid, index, entry });
        return entry;
      });
      later((result) => made.forEach((c) => (c.result = result)));
    } else if (name === "socket") {
      const family = argText(0);
      const type = argText(1).split("|")[0] ?? "";
      const entry: SocketCreation = { pid, tgid: pid, program: "?", family, type };
      sockets.push(entry);
      attributed.push({ pid, index, entry });
      later(() => undefined);
    } else if (name === "openat" || name === "open") {
      const path = /^"((?:[^"\\]|\\.)*)"/.exec(argText(name === "openat" ? 1 : 0))?.[1] ?? "?";
      const entry: FileOpen = { pid, tgid: pid, program: "?", path, result: "?" };
      opens.push(entry);
      attributed.push({ pid, index, entry });
      later((result) => (entry.result = result));
    } else if (name === "execve" || name === "execveat") {
      const path = /^"((?:[^"\\]|\\.)*)"/.exec(argText(name === "execve" ? 0 : 1))?.[1] ?? "?";
      later((result) => {
        if (result.startsWith("0")) addEvent(pid, { index, kind: "exec", value: path });
      });
    } else if (CLONES.includes(name)) {
      // A thread shares its creator's process; fork, vfork and clone without CLONE_THREAD make a new one.
      const thread = /\bCLONE_THREAD\b/.test(masked);
      later((result) => {
        const child = /^(\d+)/.exec(result)?.[1];
        if (child) {
          parentOf.set(Number(child), { parent: pid, index, thread });
          addEvent(pid, { index, kind: "clone", value: Number(child) });
        }
      });
    }
  });

  const programAt = (pid: number, index: number, seen = new Set<number>()): string => {
    const execs = (events.get(pid) ?? []).filter((e) => e.kind === "exec" && e.index <= index);
    const last = execs.at(-1);
    if (last) return last.value as string;
    const parent = parentOf.get(pid);
    if (!parent || seen.has(pid)) return "?";
    seen.add(pid);
    return programAt(parent.parent, parent.index, seen);
  };
  const tgidOf = (pid: number, seen = new Set<number>()): number => {
    const parent = parentOf.get(pid);
    if (!parent?.thread || seen.has(pid)) return pid;
    seen.add(pid);
    return tgidOf(parent.parent, seen);
  };
  for (const a of attributed) {
    a.entry.program = programAt(a.pid, a.index);
    a.entry.tgid = tgidOf(a.pid);
  }

  const programs = new Map<number, string>();
  const pids = new Set<number>([...events.keys(), ...parentOf.keys()]);
  for (const pid of pids) programs.set(pid, programAt(pid, Number.MAX_SAFE_INTEGER));
  return { calls, sockets, opens, programs };
}

/** 127.0.0.0/8, ::1, and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  if (a === "::1") return true;
  const v4 = a.startsWith("::ffff:") ? a.slice("::ffff:".length) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** "127.0.0.1:8443", "[::1]:8443", "unix:/run/x", "netlink:kernel", "none", or the family. */
export function describe(d: Destination): string {
  if (d.family === "AF_INET") return `${d.address}:${d.port}`;
  if (d.family === "AF_INET6") return `[${d.address}]:${d.port}`;
  if (d.family === "AF_UNIX") return `unix:${d.address || "(unnamed)"}`;
  if (d.family === "AF_NETLINK") return d.address === "0" ? "netlink:kernel" : `netlink:${d.address}`;
  return d.family;
}

/** A local (never IP) destination some programs may use, with the reason it is expected. */
export interface Allowance {
  /** As `describe` prints it: "unix:/dev/log", "netlink:kernel". */
  readonly destination: string;
  /** Basenames of the programs that may (the path differs between systems: /bin or /usr/bin). */
  readonly programs: readonly string[];
  readonly why: string;
}

export interface Policy {
  readonly allow?: readonly Allowance[];
}

const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/**
 * Why this call is an outbound connection attempt we do not allow, or undefined when it is fine:
 * an IP destination must be loopback and never port 53 (DNS, even a loopback resolver); any other
 * destination (AF_UNIX, netlink, packet, ...) must be allowed for that program by the policy; a
 * call without a destination goes to the peer its socket was connected to (or accepted from),
 * which one of these rules already judged; AF_UNSPEC only dissolves a socket's association.
 * bind() names a local address, not a destination: judged separately.
 */
export function violation(call: SocketCall, policy: Policy = {}): string | undefined {
  if (call.syscall === "bind") return undefined;
  if (call.family === "AF_INET" || call.family === "AF_INET6") {
    if (call.port === 53) return `DNS (port 53) to ${describe(call)}`;
    if (!isLoopbackAddress(call.address ?? "")) return `outbound to ${describe(call)}`;
    return undefined;
  }
  if (call.family === "none" || call.family === "AF_UNSPEC") return undefined;
  const where = describe(call);
  if ((policy.allow ?? []).some((a) => a.destination === where && a.programs.includes(basename(call.program))))
    return undefined;
  return call.family === "AF_UNIX"
    ? `AF_UNIX socket ${where} is not expected from ${basename(call.program)}`
    : `${call.syscall} to ${where} is not expected from ${basename(call.program)}`;
}

/** Throws, listing every offending call with its line, unless all calls pass `violation`. */
export function assertOnlyLoopback(calls: readonly SocketCall[], policy: Policy = {}): void {
  const bad = calls.map((c) => [c, violation(c, policy)] as const).filter(([, why]) => why !== undefined);
  if (bad.length > 0) {
    throw new Error(
      `${bad.length} connection attempt(s) other than loopback:\n${bad.map(([c, why]) => `  ${why} by pid ${c.pid} (${c.program}): ${c.line}`).join("\n")}`,
    );
  }
}

/** "program syscall destination -> count", sorted: the report of what a trace saw. */
export function tally(
  calls: readonly SocketCall[],
  label: (program: string) => string = (p) => p,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of calls) {
    const key = `${label(c.program)} ${c.syscall} ${describe(c)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return new Map([...counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
}
