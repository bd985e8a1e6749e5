/**
 * The API names the failing field in a 400's message: `source_eid: must be a
 * unicast IPv4 address; query: must not be empty`. This splits such a
 * message per field, so a form can show each part beside its field.
 */
export function fieldErrors(message: string): { fields: Record<string, string>; rest: string[] } {
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  for (const part of message.split('; ')) {
    const match = /^([A-Za-z_][\w]*(?:\.[\w]+)*): (.+)$/s.exec(part.trim());
    if (match) {
      const [, field, text] = match as unknown as [string, string, string];
      fields[field] = fields[field] ? `${fields[field]}; ${text}` : text;
    } else if (part.trim()) {
      rest.push(part.trim());
    }
  }
  return { fields, rest };
}
