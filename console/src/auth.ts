// Cognito through its public JSON API (no SDK, no hosted pages): sign-up, confirmation, sign-in
// with its challenges (a new password, a TOTP code), refresh, password reset, TOTP set-up and
// sign-out. Tokens live in memory; the refresh token also in this tab's sessionStorage, so a
// reload keeps the session and closing the tab ends it (see the README's threat model).
import { config } from "./config";
import { ephemeral, passwordClaim } from "./srp";
import { store } from "./store";

export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch when the ID token expires. */
  expiresAt: number;
}

export interface Claims {
  sub: string;
  email?: string;
  tenant_id?: string;
  tenant_role?: "admin" | "member";
  tenant_tier?: string;
  "cognito:groups"?: string[];
  exp: number;
}

export interface Session {
  tokens: Tokens;
  claims: Claims;
}

/** The signed-in session, or null. */
export const session = store<Session | null>(null);

/** Why the last session ended, shown on the sign-in page ("expired", "signed-out"). */
export const sessionEnded = store<string | null>(null);

export class CognitoError extends Error {
  constructor(
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REFRESH_KEY = "tenantry.refresh";
const EMAIL_KEY = "tenantry.email";

async function call<T>(target: string, body: Record<string, unknown>): Promise<T> {
  let response: Response;
  try {
    response = await fetch(config().cognitoEndpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.1",
        "x-amz-target": `AWSCognitoIdentityProviderService.${target}`,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new CognitoError("NetworkError", "The sign-in service cannot be reached. Check your connection and try again.");
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const code = String(json.__type ?? json.code ?? "Error").split("#").pop() ?? "Error";
    throw new CognitoError(code, friendly(code, String(json.message ?? response.statusText)));
  }
  return json as T;
}

/** Cognito's messages, in the console's words where they are unclear. */
function friendly(code: string, message: string): string {
  switch (code) {
    case "NotAuthorizedException":
      return /expired|revoked/i.test(message) ? "Your session has ended. Sign in again." : "Incorrect e-mail address or password.";
    case "UserNotFoundException":
      return "Incorrect e-mail address or password.";
    case "UserNotConfirmedException":
      return "This account is not confirmed yet: enter the code we e-mailed you.";
    case "CodeMismatchException":
      return "That code is not right. Check it and try again.";
    case "ExpiredCodeException":
      return "That code has expired. Ask for a new one.";
    case "UsernameExistsException":
      return "An account with this e-mail address already exists. Sign in instead.";
    case "InvalidPasswordException":
      return message.replace(/^Password does not conform to policy: /, "The password is too weak: ");
    case "LimitExceededException":
    case "TooManyRequestsException":
      return "Too many attempts. Wait a moment and try again.";
    case "UserLambdaValidationException":
      // A trigger's refusal, e.g. "PreSignUp failed with error <reason>."
      return message.replace(/^\w+ failed with error /, "").replace(/\.$/, "") + ".";
    default:
      return message;
  }
}

function decode(token: string): Claims {
  const part = token.split(".")[1] ?? "";
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Claims;
}

interface AuthResult {
  IdToken: string;
  AccessToken: string;
  RefreshToken?: string;
  ExpiresIn: number;
}

interface InitiateAuthResponse {
  AuthenticationResult?: AuthResult;
  ChallengeName?: string;
  Session?: string;
  ChallengeParameters?: Record<string, string>;
}

export type Challenge = { name: "NEW_PASSWORD_REQUIRED" | "SOFTWARE_TOKEN_MFA"; email: string; session: string };

function start(result: AuthResult, refreshToken: string): Session {
  const claims = decode(result.IdToken);
  const tokens: Tokens = {
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    refreshToken,
    expiresAt: claims.exp * 1000,
  };
  sessionStorage.setItem(REFRESH_KEY, refreshToken);
  if (claims.email) sessionStorage.setItem(EMAIL_KEY, claims.email);
  const next = { tokens, claims };
  sessionEnded.set(null);
  session.set(next);
  return next;
}

function outcome(email: string, response: InitiateAuthResponse): Session | Challenge {
  if (response.AuthenticationResult) {
    return start(response.AuthenticationResult, response.AuthenticationResult.RefreshToken ?? "");
  }
  const name = response.ChallengeName;
  if ((name === "NEW_PASSWORD_REQUIRED" || name === "SOFTWARE_TOKEN_MFA") && response.Session) {
    return { name, email, session: response.Session };
  }
  throw new CognitoError("UnsupportedChallenge", `Signing in asks for ${name ?? "something"} that this console does not support.`);
}

export async function signIn(email: string, password: string): Promise<Session | Challenge> {
  if (config().signInFlow === "USER_PASSWORD_AUTH") {
    const response = await call<InitiateAuthResponse>("InitiateAuth", {
      ClientId: config().clientId,
      AuthFlow: "USER_PASSWORD_AUTH",
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
    return outcome(email, response);
  }
  // SRP: Cognito sends its verifier's values, the console answers with a proof of the password.
  const own = ephemeral();
  const first = await call<InitiateAuthResponse>("InitiateAuth", {
    ClientId: config().clientId,
    AuthFlow: "USER_SRP_AUTH",
    AuthParameters: { USERNAME: email, SRP_A: own.A.toString(16) },
  });
  const parameters = first.ChallengeParameters ?? {};
  if (first.ChallengeName !== "PASSWORD_VERIFIER") return outcome(email, first);
  const claim = await passwordClaim(
    config().userPoolId,
    password,
    own,
    {
      userIdForSrp: parameters.USER_ID_FOR_SRP ?? "",
      salt: parameters.SALT ?? "",
      srpB: parameters.SRP_B ?? "",
      secretBlock: parameters.SECRET_BLOCK ?? "",
    },
    new Date(),
  );
  const response = await call<InitiateAuthResponse>("RespondToAuthChallenge", {
    ClientId: config().clientId,
    ChallengeName: "PASSWORD_VERIFIER",
    ...(first.Session ? { Session: first.Session } : {}),
    ChallengeResponses: {
      USERNAME: parameters.USERNAME ?? parameters.USER_ID_FOR_SRP ?? email,
      PASSWORD_CLAIM_SECRET_BLOCK: parameters.SECRET_BLOCK ?? "",
      PASSWORD_CLAIM_SIGNATURE: claim.signature,
      TIMESTAMP: claim.timestamp,
    },
  });
  return outcome(email, response);
}

export async function answerChallenge(challenge: Challenge, answer: string): Promise<Session | Challenge> {
  const responses: Record<string, string> = { USERNAME: challenge.email };
  if (challenge.name === "NEW_PASSWORD_REQUIRED") responses.NEW_PASSWORD = answer;
  else responses.SOFTWARE_TOKEN_MFA_CODE = answer;
  const response = await call<InitiateAuthResponse>("RespondToAuthChallenge", {
    ClientId: config().clientId,
    ChallengeName: challenge.name,
    Session: challenge.session,
    ChallengeResponses: responses,
  });
  return outcome(challenge.email, response);
}

let refreshing: Promise<Session | null> | null = null;

/**
 * New tokens from the refresh token (once at a time); null when the session cannot go on, which
 * ends it for `reason` ("expired", or "revoked" when the API refused the token as revoked).
 */
export function refresh(reason = "expired"): Promise<Session | null> {
  refreshing ??= (async () => {
    const refreshToken = session.get()?.tokens.refreshToken ?? sessionStorage.getItem(REFRESH_KEY);
    if (!refreshToken) return null;
    try {
      const response = await call<InitiateAuthResponse>("InitiateAuth", {
        ClientId: config().clientId,
        AuthFlow: "REFRESH_TOKEN_AUTH",
        AuthParameters: { REFRESH_TOKEN: refreshToken },
      });
      return response.AuthenticationResult ? start(response.AuthenticationResult, refreshToken) : null;
    } catch (error) {
      if (error instanceof CognitoError && error.code === "NetworkError") throw error;
      end(reason);
      return null;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** The current ID token, refreshed first when it expires within a minute. */
export async function idToken(): Promise<string | null> {
  const current = session.get();
  if (current && current.tokens.expiresAt - Date.now() > 60_000) return current.tokens.idToken;
  const renewed = await refresh();
  return renewed?.tokens.idToken ?? null;
}

/** Restores the session of this tab after a reload. */
export async function resume(): Promise<Session | null> {
  if (!sessionStorage.getItem(REFRESH_KEY)) return null;
  return refresh();
}

export function lastEmail(): string {
  return sessionStorage.getItem(EMAIL_KEY) ?? "";
}

function end(reason: string) {
  sessionStorage.removeItem(REFRESH_KEY);
  sessionEnded.set(reason);
  session.set(null);
}

export async function signOut(): Promise<void> {
  const current = session.get();
  if (current) {
    // Ends the refresh token everywhere; the ID token lapses within its 15 minutes.
    await call("RevokeToken", { ClientId: config().clientId, Token: current.tokens.refreshToken }).catch(() => undefined);
  }
  end("signed-out");
}

export async function signUp(email: string, password: string, organization: string): Promise<void> {
  await call("SignUp", {
    ClientId: config().clientId,
    Username: email,
    Password: password,
    UserAttributes: [
      { Name: "email", Value: email },
      { Name: "custom:tenant_name", Value: organization },
      { Name: "locale", Value: navigator.language.toLowerCase().startsWith("fr") ? "fr" : "en" },
    ],
  });
}

export async function confirmSignUp(email: string, code: string): Promise<void> {
  await call("ConfirmSignUp", { ClientId: config().clientId, Username: email, ConfirmationCode: code });
}

export async function resendCode(email: string): Promise<void> {
  await call("ResendConfirmationCode", { ClientId: config().clientId, Username: email });
}

export async function forgotPassword(email: string): Promise<void> {
  await call("ForgotPassword", { ClientId: config().clientId, Username: email });
}

export async function confirmForgotPassword(email: string, code: string, password: string): Promise<void> {
  await call("ConfirmForgotPassword", {
    ClientId: config().clientId,
    Username: email,
    ConfirmationCode: code,
    Password: password,
  });
}

/** Starts TOTP set-up: the secret an authenticator app takes (as a QR code). */
export async function associateTotp(): Promise<string> {
  const token = session.get()?.tokens.accessToken;
  const response = await call<{ SecretCode: string }>("AssociateSoftwareToken", { AccessToken: token });
  return response.SecretCode;
}

/** Finishes TOTP set-up with the app's first code, and makes TOTP the user's second factor. */
export async function enableTotp(code: string): Promise<void> {
  const token = session.get()?.tokens.accessToken;
  await call("VerifySoftwareToken", { AccessToken: token, UserCode: code, FriendlyDeviceName: "Authenticator" });
  await call("SetUserMFAPreference", {
    AccessToken: token,
    SoftwareTokenMfaSettings: { Enabled: true, PreferredMfa: true },
  });
}

export async function mfaEnabled(): Promise<boolean> {
  const token = session.get()?.tokens.accessToken;
  const user = await call<{ UserMFASettingList?: string[]; PreferredMfaSetting?: string }>("GetUser", { AccessToken: token });
  return (user.UserMFASettingList ?? []).includes("SOFTWARE_TOKEN_MFA") || user.PreferredMfaSetting === "SOFTWARE_TOKEN_MFA";
}

/** The pool's password policy, checked as the person types (Cognito checks it again). */
export const PASSWORD_RULES: { label: string; test: (password: string) => boolean }[] = [
  { label: "At least 12 characters", test: (p) => p.length >= 12 },
  { label: "A lower-case letter", test: (p) => /[a-z]/.test(p) },
  { label: "An upper-case letter", test: (p) => /[A-Z]/.test(p) },
  { label: "A digit", test: (p) => /[0-9]/.test(p) },
];
