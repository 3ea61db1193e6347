/** An e-mail address as the user pool keeps it: without surrounding spaces, in lower case. */
export function normalEmail(email: string): string {
  return email.trim().toLowerCase();
}
