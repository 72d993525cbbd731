// Message templates embedded as text (`with { type: "text" }`): inlined at build time, so the
// compiled binary renders them without the templates/ folder on disk.
declare module "*.liquid" {
  const text: string;
  export default text;
}
