// Data files imported `with { type: "file" }`: Bun gives their path (embedded by `bun build --compile`).
declare module "@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb" {
  const path: string;
  export default path;
}
declare module "@ip-location-db/asn/asn-ipv4-num.csv" {
  const path: string;
  export default path;
}
declare module "@ip-location-db/asn/asn-ipv6.csv" {
  const path: string;
  export default path;
}
