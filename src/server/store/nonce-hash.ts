/**
 * A nonce's identity as a 53-bit integer: wyhash of "<client id>.<nonce>", exact both as a JS
 * number and as an SQLite INTEGER. Two different nonces share a hash with a chance of about
 * n / 2^53 (n = nonces remembered, ~10^5 for 10,000 clients): a false "replay" once in 10^11.
 */
export function nonceHash(clientId: string, nonce: string): number {
  return Number(BigInt.asUintN(53, Bun.hash.wyhash(`${clientId}.${nonce}`)));
}

/** A log row's hashes as bytes: 53-bit integers are exact as doubles, so a Float64Array. */
export function packHashes(hashes: readonly number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(hashes).buffer);
}

export function unpackHashes(blob: Uint8Array): number[] {
  const aligned = blob.slice(); // a fresh buffer, so the Float64Array view is aligned
  return Array.from(new Float64Array(aligned.buffer, 0, aligned.byteLength / 8));
}
