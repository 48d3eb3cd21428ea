// How the API documentation page (/api/docs, Swagger UI) says whose API it is: Steward's name,
// logo and icon instead of Swagger's, and no "Explore" bar (a box to load any other URL's API
// description, which on a manager's own page only invites confusion). Handed to
// @fastify/swagger-ui's `logo` and `theme` options in openapi.ts.

/** A shield with a check mark: the console's colours (indigo 7 on white). */
const SHIELD = `<path d="M16 2 4 6.5v8.2c0 7.3 5 13.4 12 15.3 7-1.9 12-8 12-15.3V6.5L16 2z" fill="#4263eb"/>
<path d="m10.5 16.2 3.8 3.8 7.4-7.6" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>`;

/** The browser tab's icon. */
export const STEWARD_ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">${SHIELD}</svg>`;

/** The logo in the page's top bar (white text: the bar is dark). */
export const STEWARD_LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 32" width="200" height="32">
${SHIELD}
<text x="38" y="22" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="19" font-weight="700" fill="#fff">Steward API</text>
</svg>`;

/** Hides the "Explore" bar (Swagger UI's URL box) and gives the top bar the console's colour. */
export const DOCS_CSS = `.swagger-ui .topbar { background-color: #212529; }
.swagger-ui .topbar .download-url-wrapper { display: none !important; }
.swagger-ui .topbar .topbar-wrapper > a.link img { height: 32px; }`;
