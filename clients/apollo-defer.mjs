// Runs one query with @defer through Apollo Client against GRAPHQL_URL
// (bearer GRAPHQL_TOKEN), as a web client would: HttpLink, the normalized
// cache, and the 2022-08-24 incremental-delivery handler, which makes
// Apollo Client ask for multipart/mixed. Prints one JSON line per result
// Apollo Client emits, the last one with the count of results:
// {"data": ..., "error": ..., "dataState": ..., "results": n}.
// Run by e2e/defer_e2e_test.go (TestDeferApolloClient).
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { Defer20220824Handler } from "@apollo/client/incremental";

const { GRAPHQL_URL, GRAPHQL_TOKEN, QUERY, CUSTOMER_ID } = process.env;

const client = new ApolloClient({
  link: new HttpLink({ uri: GRAPHQL_URL, headers: { Authorization: `Bearer ${GRAPHQL_TOKEN}` } }),
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});

let results = 0;
const done = new Promise((resolve, reject) => {
  const sub = client
    .watchQuery({ query: gql(QUERY), variables: { id: CUSTOMER_ID }, fetchPolicy: "network-only" })
    .subscribe({
      next(result) {
        if (result.loading && !result.data) return; // the loading state before any payload
        results++;
        const line = { data: result.data ?? null, error: result.error ? String(result.error) : null, dataState: result.dataState, results };
        console.log(JSON.stringify(line));
        if (result.error || (!result.loading && result.dataState === "complete")) {
          sub.unsubscribe();
          resolve();
        }
      },
      error(err) {
        reject(err);
      },
    });
});

const timer = setTimeout(() => {
  console.error("no complete result within 30 s");
  process.exit(1);
}, 30_000);
await done;
clearTimeout(timer);
