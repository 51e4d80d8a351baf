// MIME multipart/mixed documents (the EKS AL2023 user_data and the examples that carry it).
import assert from 'node:assert/strict';

/** The parts of a MIME multipart/mixed document: headers (lower-case names) and body. */
export function mimeParts(text: string): { headers: Record<string, string>; body: string }[] {
  const boundary = /boundary="([^"]+)"/.exec(text)?.[1];
  assert.ok(boundary, 'a multipart boundary');
  const chunks = text.split(`--${boundary}`);
  assert.equal(chunks.at(-1)!.trim(), '--', 'the closing boundary ends the document');
  return chunks.slice(1, -1).map((chunk) => {
    const [head, ...rest] = chunk.replace(/^\n/, '').split('\n\n');
    const headers = Object.fromEntries(head!.split('\n').map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    return { headers, body: rest.join('\n\n') };
  });
}
