// The Apollo Client link of docs/frontend.md ("Reading your own writes"),
// run against GRAPHQL_URL (bearer GRAPHQL_TOKEN): a mutation, then a query.
// A fetch that records each request's headers shows that the query carried
// the token the mutation answered. Prints one JSON line:
// {"answered": token of the mutation, "sent": [X-Consistency-Token of each request]}.
// Run by e2e/consistency_client_e2e_test.go.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { map } from "rxjs";

const { GRAPHQL_URL, GRAPHQL_TOKEN, MUTATION, MUTATION_VARIABLES, QUERY } = process.env;

// --- as in docs/frontend.md
let consistencyToken;

const consistencyLink = new ApolloLink((operation, forward) => {
  if (consistencyToken) {
    operation.setContext(({ headers = {} }) => ({
      headers: { ...headers, "X-Consistency-Token": consistencyToken },
    }));
  }
  return forward(operation).pipe(
    map((result) => {
      const token = result.extensions?.consistencyToken;
      if (typeof token === "string") consistencyToken = token;
      return result;
    }),
  );
});
// ---

const sent = [];
const recordingFetch = (uri, init) => {
  const h = new Headers(init.headers);
  sent.push(h.get("X-Consistency-Token"));
  return fetch(uri, init);
};

const client = new ApolloClient({
  link: ApolloLink.from([
    consistencyLink,
    new HttpLink({ uri: GRAPHQL_URL, headers: { Authorization: `Bearer ${GRAPHQL_TOKEN}` }, fetch: recordingFetch }),
  ]),
  cache: new InMemoryCache(),
});

await client.mutate({ mutation: gql(MUTATION), variables: JSON.parse(MUTATION_VARIABLES) });
const answered = consistencyToken ?? null;
await client.query({ query: gql(QUERY), fetchPolicy: "network-only" });
console.log(JSON.stringify({ answered, sent }));
