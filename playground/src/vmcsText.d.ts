/** .vmcs files imported as text (esbuild "text" loader, scripts/build.mjs playground group). */
declare module "*.vmcs" {
  const text: string;
  export default text;
}
