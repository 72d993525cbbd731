/**
 * A nonce's identity as a 53-bit integer: wyhash of "<client id>.<nonce>", exact both as a JS
 * number and as a database integer. Two different nonces share a hash with a chance of about
 * n / 2^53 (n = nonces remembered, ~10^5 for 10,000 clients): a false "replay" once in 10^11.
 */
export function nonceHash(clientId: string, nonce: string): number {
  return Number(BigInt.asUintN(53, Bun.hash.wyhash(`${clientId}.${nonce}`)));
}
