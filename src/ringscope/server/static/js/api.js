// Requests to the daemon. The bearer token (if the server wants one) is kept
// in sessionStorage and sent in a header, never in a URL.

const listeners = new Set();

export const auth = {
  token: sessionStorage.getItem("ringscope-token") || "",
  required: false,
  refused: false, // the last token given was wrong
};

/** Call fn() whenever the server refuses our token (or asks for one). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

export function setToken(token) {
  auth.token = token;
  auth.refused = false;
  sessionStorage.setItem("ringscope-token", token);
}

export function headers() {
  return auth.token ? { Authorization: "Bearer " + auth.token } : {};
}

/** The error message of a JSON error body, or the status line. */
export async function errorOf(resp) {
  try {
    const doc = await resp.json();
    if (doc && typeof doc.error === "string") return doc.error;
  } catch (e) {
    // not JSON
  }
  return `${resp.status} ${resp.statusText}`;
}

/** fetch() with the token; a 401 is reported to the listeners. */
export async function request(path, options = {}) {
  const resp = await fetch(path, { cache: "no-store", ...options, headers: { ...headers(), ...(options.headers || {}) } });
  if (resp.status === 401) {
    auth.required = true;
    auth.refused = Boolean(auth.token);
    for (const fn of listeners) fn(auth);
  }
  return resp;
}

/** GET a JSON document; throws Error(message) for an error answer. */
export async function getJSON(path) {
  const resp = await request(path);
  if (!resp.ok) throw Object.assign(new Error(await errorOf(resp)), { status: resp.status });
  return resp.json();
}
