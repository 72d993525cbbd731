/**
 * Longest-prefix match over a handful of CIDRs (user overrides, special-purpose ranges).
 * One map per prefix length, probed from the longest length down: a lookup costs one probe per
 * distinct length in use, however many entries there are. IPv6 networks are keyed word by word
 * (nested maps, only as many levels as the prefix needs), so a probe allocates nothing.
 */
import { type Cidr, maskIPv4, type ParsedIp, type V6 } from "../../protocol/ip.ts";

type Level = Map<number, unknown>;

interface Family {
  /** prefix lengths in use, longest first */
  lengths: number[];
  byLength: Map<number, Level>;
}

/** 32-bit words a prefix of this length spans (at least one, so /0 has a key too). */
const levels = (length: number) => Math.max(1, Math.ceil(length / 32));
const wordMask = (word: number, length: number, level: number) =>
  maskIPv4(word, Math.min(32, Math.max(0, length - 32 * level)));

export class PrefixTable<T> {
  private readonly v4: Family = { lengths: [], byLength: new Map() };
  private readonly v6: Family = { lengths: [], byLength: new Map() };

  /** Adds a CIDR; returns the value already stored for exactly that CIDR instead, if any. */
  add(cidr: Cidr, value: T): T | undefined {
    const words: V6 = cidr.family === 4 ? [cidr.network, 0, 0, 0] : cidr.network;
    const family = cidr.family === 4 ? this.v4 : this.v6;
    let level = family.byLength.get(cidr.prefix);
    if (!level) {
      level = new Map();
      family.byLength.set(cidr.prefix, level);
      family.lengths.push(cidr.prefix);
      family.lengths.sort((a, b) => b - a);
    }
    const depth = cidr.family === 4 ? 1 : levels(cidr.prefix);
    for (let i = 0; i < depth - 1; i++) {
      const key = words[i] as number;
      let next = level.get(key) as Level | undefined;
      if (!next) {
        next = new Map();
        level.set(key, next);
      }
      level = next;
    }
    const last = words[depth - 1] as number;
    const existing = level.get(last);
    if (existing !== undefined) return existing as T;
    level.set(last, value);
    return undefined;
  }

  /** The value of the most specific CIDR containing ip. */
  match(ip: ParsedIp): T | undefined {
    if (ip.family === 4) {
      for (const length of this.v4.lengths) {
        const hit = this.v4.byLength.get(length)?.get(maskIPv4(ip.v4, length));
        if (hit !== undefined) return hit as T;
      }
      return undefined;
    }
    for (const length of this.v6.lengths) {
      let node: unknown = this.v6.byLength.get(length);
      const depth = levels(length);
      for (let i = 0; i < depth && node !== undefined; i++) {
        node = (node as Level).get(wordMask(ip.v6[i] as number, length, i));
      }
      if (node !== undefined) return node as T;
    }
    return undefined;
  }
}
