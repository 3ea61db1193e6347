// The console's runtime configuration: written next to the built files at deploy time
// (scripts/publish_console.sh) or served by the local stack (local/serve_console.py), never
// baked into the build, so one build serves every deployment.

export interface Config {
  /** Where the API is: "/api" (the same origin, through CloudFront or the local server). */
  apiUrl: string;
  /** Cognito's JSON API: https://cognito-idp.<region>.amazonaws.com/, or the local proxy. */
  cognitoEndpoint: string;
  region: string;
  userPoolId: string;
  clientId: string;
  /** The API reference page, if published. */
  docsUrl?: string;
  /**
   * How a password signs in: SRP (the password never leaves the browser; the only flow the
   * production app client allows), unless the configuration names the password flow (the local
   * Cognito has no SRP).
   */
  signInFlow?: "USER_SRP_AUTH" | "USER_PASSWORD_AUTH";
}

let loaded: Config | undefined;

export async function loadConfig(): Promise<Config> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = (await response.json()) as Config;
  for (const key of ["apiUrl", "cognitoEndpoint", "clientId"] as const) {
    if (typeof config[key] !== "string" || !config[key]) throw new Error(`config.json has no ${key}`);
  }
  loaded = config;
  return config;
}

export function config(): Config {
  if (!loaded) throw new Error("the configuration is not loaded yet");
  return loaded;
}
