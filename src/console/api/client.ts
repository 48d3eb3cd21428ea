// The only module that talks to the manager. Every call goes through the typed client generated
// from the manager's OpenAPI document (schema.gen.ts), so a renamed path or field breaks the
// console build instead of a page at run time.
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from './schema.gen';

export type { paths };

/**
 * The session cookie is HttpOnly and SameSite=Strict. As a second CSRF defence the console marks
 * every request it makes with a custom header: a cross-site form or `fetch` without CORS
 * pre-flight cannot add it, so the manager can refuse cookie-authenticated writes without it.
 */
export const CSRF_HEADER = 'x-requested-with';
export const CSRF_VALUE = 'steward-console';

type SessionListener = (reason: 'expired') => void;
const sessionListeners = new Set<SessionListener>();

/** Called when an authenticated request comes back 401: the session has ended. */
export function onSessionEnded(listener: SessionListener): () => void {
  sessionListeners.add(listener);
  return () => sessionListeners.delete(listener);
}

let signedIn = false;
/** Only a 401 while signed in means "expired"; a 401 on the sign-in form is a wrong password. */
export function setSignedIn(value: boolean) {
  signedIn = value;
}

const csrfAndExpiry: Middleware = {
  onRequest({ request }) {
    request.headers.set(CSRF_HEADER, CSRF_VALUE);
    return request;
  },
  onResponse({ response, request }) {
    const isLogin = new URL(request.url).pathname.startsWith('/api/v1/auth/token');
    if (response.status === 401 && signedIn && !isLogin) {
      signedIn = false;
      for (const l of sessionListeners) l('expired');
    }
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? '',
  credentials: 'same-origin',
});
api.use(csrfAndExpiry);
