/** The client's address behind reverse proxies: only hops appended by trusted proxies are believed. */
import { describe, expect, it } from "vitest";
import { normalizeAddress, parseCidr, TrustedProxies, type Cidr } from "../../src/net-address.js";

const cidrs = (...texts: string[]): Cidr[] => texts.map((t) => parseCidr(t) as Cidr);

describe("addresses and ranges", () => {
  it("normalises brackets, case and IPv4-mapped IPv6, and refuses what is not an IP", () => {
    expect(normalizeAddress("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(normalizeAddress("[2001:DB8::1]")).toBe("2001:db8::1");
    expect(normalizeAddress(" 198.51.100.4 ")).toBe("198.51.100.4");
    for (const bad of ["", "unknown", "198.51.100.4:443", "[::1]:80", "256.1.1.1", "example.org"])
      expect(normalizeAddress(bad), bad).toBeUndefined();
  });

  it("parses CIDR ranges and bare addresses", () => {
    expect(parseCidr("10.0.0.0/8")).toEqual({ network: "10.0.0.0", prefix: 8, family: "ipv4" });
    expect(parseCidr("2001:db8::/32")).toEqual({ network: "2001:db8::", prefix: 32, family: "ipv6" });
    expect(parseCidr("192.0.2.9")).toEqual({ network: "192.0.2.9", prefix: 32, family: "ipv4" });
    for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/", "/8", "10.0.0.0/ 8"])
      expect(parseCidr(bad), bad).toBeUndefined();
  });
});

describe("TrustedProxies.clientAddress", () => {
  const proxies = new TrustedProxies(cidrs("10.0.0.0/8", "fd00::/8"));

  it("with no trusted proxy, is always the peer: X-Forwarded-For is whatever the client wrote", () => {
    const none = new TrustedProxies([]);
    expect(none.clientAddress("203.0.113.5", "198.51.100.1")).toBe("203.0.113.5");
    expect(none.clientAddress("10.0.0.1", "198.51.100.1")).toBe("10.0.0.1");
  });

  it("ignores the header from an untrusted peer", () => {
    expect(proxies.clientAddress("203.0.113.5", "198.51.100.1")).toBe("203.0.113.5");
    expect(proxies.clientAddress("::ffff:203.0.113.5", "10.0.0.9")).toBe("203.0.113.5");
  });

  it("from a trusted peer, takes the first untrusted hop from the right, never what the client prepended", () => {
    expect(proxies.clientAddress("10.0.0.2", "203.0.113.5")).toBe("203.0.113.5");
    expect(proxies.clientAddress("10.0.0.2", "198.51.100.66, 203.0.113.5, 10.1.1.1")).toBe("203.0.113.5");
    expect(proxies.clientAddress("fd00::2", "2001:db8::7")).toBe("2001:db8::7");
    // The client wrote garbage or a spoofed address at the left; the proxy appended the real one.
    expect(proxies.clientAddress("10.0.0.2", "not-an-ip, 203.0.113.5")).toBe("203.0.113.5");
  });

  it("stops at the last trusted hop when a trusted hop's entry is malformed, and uses the peer without a header", () => {
    expect(proxies.clientAddress("10.0.0.2", "203.0.113.5, garbage")).toBe("10.0.0.2");
    expect(proxies.clientAddress("10.0.0.2", "203.0.113.5, garbage, 10.0.0.3")).toBe("10.0.0.3");
    expect(proxies.clientAddress("10.0.0.2", "")).toBe("10.0.0.2");
    expect(proxies.clientAddress("10.0.0.2", undefined)).toBe("10.0.0.2");
    // Only trusted hops: the leftmost is as close to the client as anyone can tell.
    expect(proxies.clientAddress("10.0.0.2", "10.0.0.7, 10.0.0.3")).toBe("10.0.0.7");
    expect(proxies.clientAddress(undefined, "203.0.113.5")).toBe("unknown");
  });
});
