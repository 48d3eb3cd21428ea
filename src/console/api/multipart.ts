// Multipart bodies for the documented upload routes: openapi-fetch sends the FormData as it is
// (the browser sets the boundary); the path and the answer stay typed.

/** Options that make openapi-fetch send `form` untouched. */
export function multipart(form: FormData) {
  return {
    // biome-ignore lint/suspicious/noExplicitAny: the document describes these bodies as multipart, not JSON
    body: form as any,
    bodySerializer: (b: unknown) => b as FormData,
  };
}

export function fileForm(file: File, fields: Record<string, string | undefined> = {}): FormData {
  const form = new FormData();
  // Metadata first: the manager streams the file to disk as soon as it reaches it.
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') form.set(k, v);
  form.set('file', file);
  return form;
}
