// How the API documentation page (/api/docs, Swagger UI) says whose API it is: Steward's name,
// logo and icon instead of Swagger's, and no "Explore" bar (a box to load any other URL's API
// description, which on a manager's own page only invites confusion). Handed to
// @fastify/swagger-ui's `logo` and `theme` options in openapi.ts.

/** A shield with a check mark: the console's colours (indigo 7 on white). */
const SHIELD = `<path d="M16 2 4 6.5v8.2c0 7.3 5 13.4 12 15.3 7-1.9 12-8 12-15.3V6.5L16 2z" fill="#4263eb"/>
<path d="m10.5 16.2 3.8 3.8 7.4-7.6" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>`;

/** The browser tab's icon; the console's is the same file (src/console/public/favicon.svg). */
export const STEWARD_ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><title>Steward</title>${SHIELD}</svg>`;

/** The logo in the page's top bar (white text: the bar is dark). */
export const STEWARD_LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 32" width="200" height="32">
${SHIELD}
<text x="38" y="22" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="19" font-weight="700" fill="#fff">Steward API</text>
</svg>`;

/** Hides the "Explore" bar (Swagger UI's URL box) and gives the top bar the console's colour. */
export const DOCS_CSS = `.swagger-ui .topbar { background-color: #212529; }
.swagger-ui .topbar .download-url-wrapper { display: none !important; }
.swagger-ui .topbar .topbar-wrapper > a.link img { height: 32px; }`;

/** What Swagger UI hands its `requestInterceptor`: a request it is about to send with fetch. */
export interface DocsRequest {
  url: string;
  headers: Record<string, string>;
  credentials?: string;
}

/**
 * The docs page's "Try it out" as the console does it. Swagger UI serialises this function into
 * its swagger-initializer.js with `toString()`, so it runs in the browser and may use nothing
 * from outside its own body (hence the literals, and `globalThis.location` rather than an import).
 *
 * - A request to this manager that carries no credential of its own is sent with the console's
 *   session cookie and the console's CSRF header (`x-requested-with: steward-console`), exactly
 *   what the console's own client sends: a signed-in admin can try any operation, a signed-out
 *   visitor gets a 401. This weakens nothing: the page is served by the manager on the manager's
 *   origin under its CSP, and a cross-site page still cannot add the header to a request.
 * - A request that carries a credential the user entered under Authorize omits the cookie (else
 *   the manager would see two different credentials and answer 400).
 * - A bare token typed into the Token scheme (`Authorization`) gets the word `Token` in front of
 *   it, so pasting the token alone works; `Token …` and `Bearer …` are left as typed.
 */
export function docsRequestInterceptor(req: DocsRequest): DocsRequest {
  const here = (globalThis as unknown as { location: { href: string; origin: string } }).location;
  const names = Object.keys(req.headers).map((h) => h.toLowerCase());
  const auth = req.headers.Authorization?.trim();
  if (auth && !/^(token|bearer)\s/i.test(auth)) req.headers.Authorization = `Token ${auth}`;
  const ownCredential = ['authorization', 'api-key', 'x-token-id', 'x-auth-token'].some((h) =>
    names.includes(h),
  );
  if (new URL(req.url, here.href).origin !== here.origin) return req;
  if (ownCredential) {
    req.credentials = 'omit';
  } else {
    req.credentials = 'same-origin';
    req.headers['x-requested-with'] = 'steward-console';
  }
  return req;
}
