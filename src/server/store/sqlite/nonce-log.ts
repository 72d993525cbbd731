/** A nonce log row's hashes as bytes: 53-bit integers are exact as doubles, so a Float64Array. */
export function packHashes(hashes: readonly number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(hashes).buffer);
}

export function unpackHashes(blob: Uint8Array): number[] {
  const aligned = blob.slice(); // a fresh buffer, so the Float64Array view is aligned
  return Array.from(new Float64Array(aligned.buffer, 0, aligned.byteLength / 8));
}
