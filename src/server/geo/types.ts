/** What the server knows about one IP address, without any network call. */
export interface IpInfo {
  ip: string;
  /** ISO 3166-1 alpha-2, upper case; null when unknown */
  country: string | null;
  asn: number | null;
  /** the AS organisation, kept exactly as published (non-ASCII intact) */
  org: string | null;
  /** where the answer came from */
  source: "override" | "database" | "none";
}

export interface GeoLookup {
  lookup(ip: string): IpInfo;
}
