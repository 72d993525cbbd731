// Files embedded as text (`with { type: "text" }`): the string is inlined at build time, so the
// compiled binary serves them without touching the disk.
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*/assets/app.js" {
  const text: string;
  export default text;
}
declare module "htmx.org/dist/htmx.min.js" {
  const text: string;
  export default text;
}
declare module "htmx-ext-sse/dist/sse.min.js" {
  const text: string;
  export default text;
}
