// Starts GraphiQL with the settings the server wrote into the page. It is a
// file of its own, not an inline script, so that the page's
// Content-Security-Policy can allow scripts from its own origin only.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('playground-config').textContent);

  // The endpoint may be relative ("/graphql"); subscriptions use the same
  // URL with the WebSocket scheme that matches the page's.
  var url = new URL(config.endpoint, window.location.href);
  var subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';

  // The UMD build of GraphiQL bundles graphql-ws: with subscriptionUrl set,
  // subscriptions go over graphql-transport-ws, and the headers editor's
  // values are sent as the connection_init payload (which is where the
  // server reads the bearer token of a WebSocket client).
  var fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href
  });

  var props = {
    fetcher: fetcher,
    defaultEditorToolsVisibility: config.headers ? 'headers' : false
  };
  if (config.headers) {
    // headers fills the first tab even when the browser remembers tabs from
    // an earlier visit (whose token may have expired); defaultHeaders fills
    // new tabs.
    props.headers = config.headers;
    props.defaultHeaders = config.headers;
  }
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, props));
})();
