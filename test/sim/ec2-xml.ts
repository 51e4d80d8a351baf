// XML of the EC2 Query protocol (API 2016-11-15): success envelopes in the EC2 namespace with
// `requestId`, error envelopes with `RequestID` (EC2 spells the two differently).

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A text element; undefined leaves it out, as EC2 leaves out absent fields. */
export function text(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? '' : `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** An element of already-rendered children. */
export function node(name: string, ...children: string[]): string {
  return `<${name}>${children.join('')}</${name}>`;
}

/** A list the EC2 way: `<nameSet><item>…</item>…</nameSet>`. */
export function itemSet(name: string, items: readonly string[]): string {
  return node(name, ...items.map((item) => node('item', item)));
}

export function tagSetXml(tags: Readonly<Record<string, string>>): string {
  return itemSet(
    'tagSet',
    Object.entries(tags).map(([key, value]) => text('key', key) + text('value', value)),
  );
}

export function successXml(action: string, requestId: string, body: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<${action}Response xmlns="${EC2_NAMESPACE}">${text('requestId', requestId)}${body}</${action}Response>`
  );
}

export function errorXml(code: string, message: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<Response>${node('Errors', node('Error', text('Code', code), text('Message', message)))}` +
    `${text('RequestID', requestId)}</Response>`
  );
}
