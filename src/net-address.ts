/**
 * IP addresses and CIDR ranges: parsing (for VECTO_TRUSTED_PROXIES) and finding the client's
 * address behind trusted reverse proxies. No sockets: node:net is used here for isIP and
 * BlockList only (test/unit/architecture.test.ts lists this file under ADDRESS_PARSING).
 */
import { BlockList, isIP } from "node:net";

export interface Cidr {
  readonly network: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** An address as it is compared and recorded: no brackets, IPv4-mapped IPv6 as plain IPv4; undefined when not an IP. */
export function normalizeAddress(text: string): string | undefined {
  const bare = text.trim().replace(/^\[(.*)\]$/, "$1");
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare)?.[1];
  const address = mapped ?? bare;
  return isIP(address) === 0 ? undefined : address.toLowerCase();
}

const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A host name as a certificate's DNS name holds it: dot-separated labels of letters, digits and inner hyphens. */
export function isDnsName(text: string): boolean {
  return DNS_NAME.test(text);
}

/** "10.0.0.0/8", "fd00::/8", or a bare address (a /32 or /128); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const [addressPart = "", prefixPart, extra] = text.trim().split("/");
  if (extra !== undefined) return undefined;
  const network = normalizeAddress(addressPart);
  if (network === undefined) return undefined;
  const family = isIP(network) === 4 ? "ipv4" : "ipv6";
  const max = family === "ipv4" ? 32 : 128;
  if (prefixPart === undefined) return { network, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixPart) || Number(prefixPart) > max) return undefined;
  return { network, prefix: Number(prefixPart), family };
}

/**
 * The reverse proxies whose X-Forwarded-For is believed. With none configured the client is
 * always the TCP peer: anyone can write anything into that header.
 */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  constructor(cidrs: readonly Cidr[]) {
    for (const cidr of cidrs) this.#list.addSubnet(cidr.network, cidr.prefix, cidr.family);
    this.#empty = cidrs.length === 0;
  }

  isTrusted(address: string): boolean {
    if (this.#empty) return false;
    return this.#list.check(address, isIP(address) === 4 ? "ipv4" : "ipv6");
  }

  /**
   * The client: the peer, unless the peer is a trusted proxy; then X-Forwarded-For is walked from
   * the right (the entries trusted proxies appended), skipping trusted hops, and the first
   * untrusted address is the client. Entries left of it are whatever the client sent and are
   * never read. A malformed entry among the trusted hops' ends the walk at the last trusted hop.
   */
  clientAddress(peer: string | undefined, forwardedFor: string | undefined): string {
    const start = peer === undefined ? undefined : normalizeAddress(peer);
    if (start === undefined) return "unknown";
    if (forwardedFor === undefined || !this.isTrusted(start)) return start;
    let client = start;
    const hops = forwardedFor.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(hops[i] ?? "");
      if (hop === undefined) return client;
      client = hop;
      if (!this.isTrusted(hop)) return hop;
    }
    return client;
  }
}
