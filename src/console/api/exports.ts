// Export downloads (CSV or JSON) of the lists: a plain link to `GET .../export/` with the page's
// filters. The browser sends the session cookie with a same-origin GET, and reads need no CSRF
// header (only writes do), so the manager streams the file straight to the download; nothing
// of it passes through the console's memory. Paths and filters are typed from the OpenAPI
// document, so a renamed export or filter breaks the build.
import type { paths } from './schema.gen';

export type ExportPath = Extract<keyof paths, `${string}/export/`>;
export type ExportFormat = 'csv' | 'json';
type QueryOf<P extends ExportPath> = paths[P] extends { get: { parameters: { query: infer Q } } } ? Q : never;
/** The filters an export takes: its list's, less `format`. */
export type ExportFilters<P extends ExportPath> = Partial<Omit<QueryOf<P>, 'format'>>;

/** The URL of an export of `path` with these filters (empty ones left out). */
export function exportHref<P extends ExportPath>(
  path: P,
  filters: ExportFilters<P>,
  format: ExportFormat,
): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters as Record<string, unknown>)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  params.set('format', format);
  return `${path}?${params.toString()}`;
}
