// Runs graphql-http's server audits (the GraphQL-over-HTTP specification's
// MUST, SHOULD and MAY checks) against GRAPHQL_URL, sending
// `Authorization: Bearer $GRAPHQL_TOKEN` with every request when it is set.
// Prints one JSON line per audit: {"id", "name", "status", "reason"};
// status is "ok", or "error" (a MUST), "warn" (a SHOULD), "notice" (a MAY).
// The Go test that starts the server decides what passes.
import { serverAudits } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
if (!url) {
  console.error('GRAPHQL_URL is not set');
  process.exit(2);
}
const token = process.env.GRAPHQL_TOKEN;

function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const line = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    line.reason = result.reason;
    try {
      line.response = `${result.response.status} ${result.response.headers.get('content-type')}: ${await result.response.text()}`;
    } catch {
      // The body was already read by the audit.
    }
  }
  console.log(JSON.stringify(line));
}
