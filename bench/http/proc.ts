/** What Linux says about a process: its CPU time and resident memory (/proc/<pid>/stat, /proc/<pid>/status). */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

/** USER_HZ, the unit of utime and stime (100 on every common Linux; asked once, to be sure). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const answer = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    ticksPerSecond = Number.isInteger(answer) && answer > 0 ? answer : 100;
  }
  return ticksPerSecond;
}

/** User + system CPU time of the process (every thread: main, libuv pool, V8's), in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicks();
}

function statusMiB(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(status)?.[1];
  if (kib === undefined) throw new Error(`no ${field} for process ${pid}`);
  return Number(kib) / 1024;
}

/** Resident set size (VmRSS), in MiB. */
export function rssMiB(pid: number): number {
  return statusMiB(pid, "VmRSS");
}

/**
 * VmRSS in its two parts, in MiB: anonymous memory (the heaps: V8's, malloc's, SQLite's page cache)
 * and pages of mapped files (the node binary's code and read-only data, the addons), which are
 * clean, shared with the page cache and other processes of the same file, and counted in full
 * where the kernel holds the file in large folios (a binary just written, e.g. by its build).
 */
export function rssPartsMiB(pid: number): { anon: number; file: number } {
  return { anon: statusMiB(pid, "RssAnon"), file: statusMiB(pid, "RssFile") };
}

/**
 * Context switches of the process's main thread so far (/proc/<pid>/status): voluntary (it waited,
 * e.g. in epoll) and involuntary (the kernel gave its core to another process while it could run).
 */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)$`, "m").exec(status)?.[1] ?? NaN);
  return { voluntary: field("voluntary_ctxt_switches"), involuntary: field("nonvoluntary_ctxt_switches") };
}
