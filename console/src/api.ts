// The API, typed from docs/openapi.json (src/schema.d.ts is generated from it by
// `npm run types`, before every build): a path, method, body or answer the document does not
// have is a compile error, so a change of the API breaks this build rather than its users.
import type { components, paths } from "./schema";
import { idToken, refresh } from "./auth";
import { config } from "./config";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

type Method = "get" | "post" | "put" | "patch" | "delete";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type JsonOf<R> = R extends { content: { "application/json": infer J } } ? J : undefined;
type Responses<O> = O extends { responses: infer R } ? R : never;
type Success<O> = JsonOf<Responses<O>[Extract<keyof Responses<O>, 200 | 201 | 202 | 204>]>;
type BodyOf<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : O extends { requestBody?: { content: { "application/json": infer B } } }
    ? B | undefined
    : undefined;
type PathParams<O> = O extends { parameters: { path: infer P } } ? P : undefined;
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? Q : undefined;

export interface Options<O> {
  path?: PathParams<O>;
  query?: QueryParams<O>;
  body?: BodyOf<O>;
  /** The version a change is based on (`If-Match`). */
  ifMatch?: string;
}

export interface Answer<T> {
  data: T;
  /** The `ETag` of what was read or written. */
  etag: string | null;
}

/** An answer that is not a success: the API's problem, or one made here for a network failure. */
export class ApiError extends Error {
  constructor(
    public readonly problem: Problem,
    public readonly retryAfter: number | null = null,
  ) {
    super(problem.detail);
  }
  get code(): string {
    return this.problem.code;
  }
  get status(): number {
    return this.problem.status;
  }
}

function problem(status: number, code: string, detail: string): Problem {
  return { type: `urn:tenantry:problem:${code}`, title: code, status, detail, code, request_id: "" };
}

/**
 * Listeners told of the problems that concern the whole organization rather than one request
 * (`tenant-inactive`: suspended or being deleted; `mfa-required`), so that the shell says so
 * above whatever page is open.
 */
export const organizationProblems = new Set<(error: ApiError) => void>();
const ORGANIZATION_CODES = new Set(["tenant-inactive", "mfa-required"]);

/** Someone or something ended the session (expired, revoked): the shell sends the person to sign in. */
export const SESSION_ENDED = "session-ended";

export async function request<P extends keyof paths, M extends Method>(
  method: M,
  template: P,
  options: Options<Operation<P, M>> = {},
): Promise<Answer<Success<Operation<P, M>>>> {
  let path = String(template);
  for (const [name, value] of Object.entries((options.path ?? {}) as Record<string, string>)) {
    path = path.replace(`{${name}}`, encodeURIComponent(value));
  }
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries((options.query ?? {}) as Record<string, unknown>)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const url = `${config().apiUrl}${path}${query.size ? `?${query}` : ""}`;
  const send = async (token: string) => {
    const headers: Record<string, string> = { authorization: token, accept: "application/json" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (options.ifMatch) headers["if-match"] = options.ifMatch;
    try {
      return await fetch(url, {
        method: method.toUpperCase(),
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch {
      throw new ApiError(problem(0, "network", "The service cannot be reached. Check your connection and try again."));
    }
  };
  let token = await idToken();
  if (!token) throw new ApiError(problem(401, SESSION_ENDED, "Your session has ended. Sign in again."));
  let response = await send(token);
  if (response.status === 401) {
    // A revoked or expired token: one refresh, which carries what the person holds now.
    const refused = (await response.clone().json().catch(() => ({}))) as { code?: string };
    const renewed = await refresh(refused.code === "token-revoked" ? "revoked" : "expired");
    if (!renewed) throw new ApiError(problem(401, SESSION_ENDED, "Your session has ended. Sign in again."));
    token = renewed.tokens.idToken;
    response = await send(token);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const retry = Number(response.headers.get("retry-after"));
    const body = json as Partial<Problem> | undefined;
    const found =
      body && typeof body.code === "string" && typeof body.detail === "string"
        ? (body as Problem)
        : problem(response.status, response.status >= 500 ? "server-error" : "error", (json as { message?: string })?.message ?? `The service answered ${response.status}.`);
    const error = new ApiError(found, Number.isFinite(retry) && retry > 0 ? retry : null);
    if (ORGANIZATION_CODES.has(found.code)) for (const listener of organizationProblems) listener(error);
    throw error;
  }
  return { data: json as Success<Operation<P, M>>, etag: response.headers.get("etag") };
}

export const api = {
  get: <P extends keyof paths>(path: P, options?: Options<Operation<P, "get">>) => request("get", path, options),
  post: <P extends keyof paths>(path: P, options?: Options<Operation<P, "post">>) => request("post", path, options),
  put: <P extends keyof paths>(path: P, options?: Options<Operation<P, "put">>) => request("put", path, options),
  patch: <P extends keyof paths>(path: P, options?: Options<Operation<P, "patch">>) => request("patch", path, options),
  delete: <P extends keyof paths>(path: P, options?: Options<Operation<P, "delete">>) => request("delete", path, options),
};
