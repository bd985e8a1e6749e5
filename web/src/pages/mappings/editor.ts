import type { FieldErrors, MappingsForm } from './mappings-logic.js';

/** What every section of the editor gets: the form, the errors by path, and a way to change both. */
export interface EditorProps {
  form: MappingsForm;
  errors: FieldErrors;
  /**
   * Changes a copy of the form; `path` names the field changed, whose error
   * (and its entry's) then clears, since it no longer describes what is typed.
   */
  update(change: (draft: MappingsForm) => void, path?: string): void;
}

/** Props that tie an input to its dotted path: the error summary focuses it by this. */
export const pathAttr = (path: string) => ({ 'data-path': path });
