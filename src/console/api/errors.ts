// Problem+json errors from the manager, turned into something a form can show: the overall
// `detail`, and one message per field (`body.name` -> `name`).

export interface Problem {
  status?: number;
  title?: string;
  detail?: string;
  code?: string;
  errors?: { field?: string; message?: string }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  readonly fields: Record<string, string>;
  /** Full field paths (`content.snmp__enable`) for nested bodies. */
  readonly paths: Record<string, string>;

  constructor(status: number, problem: Problem) {
    super(problem.detail ?? problem.title ?? `request failed (${status})`);
    this.status = status;
    this.problem = problem;
    this.fields = {};
    this.paths = {};
    for (const e of problem.errors ?? []) {
      if (!e.field || !e.message) continue;
      const name = e.field.replace(/^(body|query|params|querystring)\.?/, '').replace(/^\//, '');
      const key = name.split(/[./[]/)[0] || name;
      if (!this.paths[name]) this.paths[name] = e.message;
      if (!this.fields[key]) this.fields[key] = e.message;
    }
  }
}

/** Unwraps an openapi-fetch result: the data, or an ApiError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  const err = (result.error ?? {}) as Problem;
  throw new ApiError(result.response.status, typeof err === 'object' ? err : { detail: String(err) });
}

export function fieldError(error: unknown, field: string): string | undefined {
  return error instanceof ApiError ? error.fields[field] : undefined;
}

export function nestedFieldError(error: unknown, path: string): string | undefined {
  return error instanceof ApiError ? error.paths[path] : undefined;
}

/** For the alert above a form: the field messages are already shown under their fields. */
export function formErrorMessage(error: unknown): string {
  if (error instanceof ApiError && Object.keys(error.fields).length > 0) {
    return 'Some fields need attention: see the messages under them.';
  }
  return errorMessage(error);
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** 404 or 405 from a path the document declares: the module is not enabled on this manager. */
export function isNotAvailable(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 404 || error.status === 405 || error.status === 501);
}

/**
 * A number outside its range, said as the manager says it, while the admin types (number inputs
 * never clamp: a value the admin did not type is never sent). Empty is not an error here.
 */
export function rangeError(value: unknown, min?: number, max?: number): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  if ((min === undefined || value >= min) && (max === undefined || value <= max)) return undefined;
  if (min !== undefined && max !== undefined) return `must be between ${min} and ${max}`;
  return min !== undefined ? `must be at least ${min}` : `must be at most ${max}`;
}
