// Starts GraphiQL with the settings the server wrote into the page: one tab
// per example operation, a role switcher, the explorer plugin and a live
// event view. It is a file of its own, not an inline script, so that the
// page's Content-Security-Policy can allow scripts from its own origin
// only; it is plain ES2017 with React.createElement, so that it needs no
// build step.
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('playground-config').textContent);
  var h = React.createElement;
  var useEditorContext = GraphiQL.React.useEditorContext;
  var roles = config.roles || [];

  // The endpoint may be relative ("/graphql"); subscriptions use the same
  // URL with the WebSocket scheme that matches the page's.
  var url = new URL(config.endpoint, window.location.href);
  var wsUrl = new URL(url.href);
  wsUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';

  // --- Storage --------------------------------------------------------
  // GraphiQL keeps its tabs (with their headers, so each tab keeps its
  // role across a reload) under a namespace of this page's settings: a
  // restarted server mints new tokens, and its page opens on fresh example
  // tabs instead of stored ones whose tokens no longer verify.
  var prefix = 'playground:' + config.namespace + ':';
  var backing;
  try {
    backing = window.localStorage;
    for (var i = backing.length - 1; i >= 0; i--) {
      var k = backing.key(i);
      if (k && k.indexOf('playground:') === 0 && k.indexOf(prefix) !== 0) backing.removeItem(k);
    }
  } catch (e) {
    backing = null; // storage disabled: keep the tabs for this page only
  }
  var memory = {};
  var storage = {
    getItem: function (key) {
      if (backing) return backing.getItem(prefix + key);
      return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
    },
    setItem: function (key, value) {
      if (backing) backing.setItem(prefix + key, value);
      else memory[key] = String(value);
    },
    removeItem: function (key) {
      if (backing) backing.removeItem(prefix + key);
      else delete memory[key];
    },
    clear: function () {
      if (!backing) { memory = {}; return; }
      for (var i = backing.length - 1; i >= 0; i--) {
        var k = backing.key(i);
        if (k && k.indexOf(prefix) === 0) backing.removeItem(k);
      }
    },
    key: function () { return null; },
    get length() { return 0; }
  };

  // --- Roles ----------------------------------------------------------
  function parseHeaders(text) {
    try {
      var o = JSON.parse(text && text.trim() ? text : '{}');
      return o && typeof o === 'object' && !Array.isArray(o) ? o : null;
    } catch (e) {
      return null;
    }
  }

  function roleOfHeaders(text) {
    var o = parseHeaders(text);
    var auth = o && o.Authorization;
    for (var i = 0; i < roles.length; i++) {
      if (auth === 'Bearer ' + roles[i].token) return roles[i];
    }
    return null;
  }

  // setRole rewrites the headers editor's Authorization, keeping the
  // other headers; the editor's change updates the active tab.
  function setRole(editor, label) {
    var role = roles.filter(function (r) { return r.label === label; })[0];
    if (!role || !editor) return;
    var o = parseHeaders(editor.getValue()) || {};
    o.Authorization = 'Bearer ' + role.token;
    editor.setValue(JSON.stringify(o, null, 2));
  }

  // useHeaderText follows the active tab's headers editor.
  function useHeaderText() {
    var ctx = useEditorContext({ nonNull: true });
    var editor = ctx.headerEditor;
    var state = React.useState(editor ? editor.getValue() : '');
    var setText = state[1];
    React.useEffect(function () {
      if (!editor) return undefined;
      var update = function () { setText(editor.getValue()); };
      update();
      editor.on('change', update);
      return function () { editor.off('change', update); };
    }, [editor]);
    return [state[0], ctx];
  }

  // --- Subscriptions ---------------------------------------------------
  function isCloseEvent(e) {
    return !!e && typeof e === 'object' && typeof e.code === 'number' && 'reason' in e;
  }

  // newClient is a graphql-ws client whose connection_init payload is the
  // headers (where the server reads a WebSocket client's bearer token). A
  // socket the server closed with a code of its own (4400 and up: refused
  // token, init timeout, too many requests) is not retried: the close
  // reason is shown instead.
  function newClient(headers) {
    return graphqlWs.createClient({
      url: wsUrl.href,
      connectionParams: headers,
      retryAttempts: 3,
      shouldRetry: function (e) { return !isCloseEvent(e) || e.code < 4000; }
    });
  }

  // describeError turns what graphql-ws reports into a sentence: the
  // server's close code and reason (e.g. "4403 UNAUTHENTICATED: token is
  // expired"), the errors of an error message, or an Error's message.
  function describeError(e) {
    if (isCloseEvent(e)) {
      return 'The server closed the connection: ' + e.code + (e.reason ? ' ' + e.reason : '');
    }
    if (Array.isArray(e)) return e.map(function (x) { return x.message; }).join('; ');
    return e && e.message ? e.message : String(e);
  }

  function errorResult(e) {
    if (Array.isArray(e)) return { errors: e };
    var err = { message: describeError(e) };
    if (isCloseEvent(e)) {
      err.extensions = { closeCode: e.code };
      var m = /^([A-Z][A-Z_]+):/.exec(e.reason || '');
      if (m) err.extensions.code = m[1];
    }
    return { errors: [err] };
  }

  // subscribe runs one subscription on a client of its own, as an async
  // iterator GraphiQL reads: an error (a close by the server included) is
  // its last result, and then the iterator ends, so that GraphiQL stops
  // its spinner and shows why.
  function subscribe(params, headers) {
    var queue = [];
    var waiting = null;
    var done = false;
    var client = newClient(headers);
    function push(item) {
      if (waiting) { var w = waiting; waiting = null; w(item); } else queue.push(item);
    }
    var unsubscribe = client.subscribe({
      query: params.query,
      variables: params.variables,
      operationName: params.operationName,
      extensions: params.extensions
    }, {
      next: function (v) { push({ value: v, done: false }); },
      error: function (e) { push({ value: errorResult(e), done: false }); push({ value: undefined, done: true }); },
      complete: function () { push({ value: undefined, done: true }); }
    });
    function end() {
      if (done) return;
      done = true;
      unsubscribe();
      client.dispose();
    }
    function settle(x) { if (x.done) end(); return x; }
    var it = {
      next: function () {
        if (queue.length) return Promise.resolve(settle(queue.shift()));
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise(function (resolve) { waiting = resolve; }).then(settle);
      },
      return: function () {
        end();
        if (waiting) { var w = waiting; waiting = null; w({ value: undefined, done: true }); }
        return Promise.resolve({ value: undefined, done: true });
      }
    };
    it[Symbol.asyncIterator] = function () { return it; };
    return it;
  }

  // operationOf returns the operation of doc that params names, or doc's
  // only one. GraphiQL may send the operation name of the text that was
  // there before (another tab's, or before an edit); that name is dropped,
  // so that the server runs the one operation there is.
  function operationOf(doc, params) {
    if (!doc) return null;
    var ops = doc.definitions.filter(function (d) { return d.kind === 'OperationDefinition'; });
    var name = params.operationName;
    var named = name ? ops.filter(function (o) { return o.name && o.name.value === name; })[0] : null;
    if (named) return named;
    if (ops.length === 1) {
      if (name) params.operationName = ops[0].name ? ops[0].name.value : null;
      return ops[0];
    }
    return null;
  }

  var httpFetcher = GraphiQL.createFetcher({ url: url.href });
  function fetcher(params, opts) {
    // GraphiQL's documentAST and operation name follow the editor after a
    // short delay: the text it sends is parsed again here.
    var doc = opts && opts.documentAST;
    try { doc = GraphiQL.GraphQL.parse(params.query); } catch (e) { /* the server says what is wrong */ }
    var op = operationOf(doc, params);
    if (op && op.operation === 'subscription') {
      return subscribe(params, (opts && opts.headers) || {});
    }
    return httpFetcher(params, opts);
  }

  // --- The live event view ----------------------------------------------
  // The feed lives outside React, so that it keeps listening while its
  // panel is closed; the panel and the role switcher subscribe to it.
  var LIVE_QUERY = 'subscription LiveEvents { eventAppended { id position stream revision type recordedAt ' +
    'actor { userId tenantId role } correlationId } }';
  var MAX_EVENTS = 200;
  var live = { started: false, status: 'idle', message: '', events: [], key: null, label: '', generation: 0 };
  var liveListeners = [];
  var liveStop = function () {};

  function liveSet(patch) {
    for (var k in patch) live[k] = patch[k];
    liveListeners.slice().forEach(function (f) { f(); });
  }

  function useLive() {
    var state = React.useState(0);
    var bump = state[1];
    React.useEffect(function () {
      var f = function () { bump(function (n) { return n + 1; }); };
      liveListeners.push(f);
      return function () { liveListeners = liveListeners.filter(function (g) { return g !== f; }); };
    }, []);
    return live;
  }

  // liveStart listens as the user of headersText, in place of any earlier
  // feed; the events received so far stay in the list.
  function liveStart(headersText) {
    liveStop();
    var generation = live.generation + 1;
    var role = roleOfHeaders(headersText);
    var client = newClient(parseHeaders(headersText) || {});
    var current = function () { return live.generation === generation; };
    liveSet({
      started: true, generation: generation, status: 'connecting', message: '', key: headersText,
      label: role ? role.label : 'the token in the headers editor'
    });
    client.on('connected', function () { if (current()) liveSet({ status: 'listening' }); });
    var unsubscribe = client.subscribe({ query: LIVE_QUERY }, {
      next: function (r) {
        if (!current()) return;
        if (r.data && r.data.eventAppended) {
          liveSet({ events: [r.data.eventAppended].concat(live.events).slice(0, MAX_EVENTS) });
        } else if (r.errors) {
          liveSet({ status: 'closed', message: describeError(r.errors) });
        }
      },
      error: function (e) { if (current()) liveSet({ status: 'closed', message: describeError(e) }); },
      complete: function () { if (current()) liveSet({ status: 'closed', message: 'The server ended the feed.' }); }
    });
    liveStop = function () {
      liveStop = function () {};
      unsubscribe();
      client.dispose();
    };
  }

  function historyQuery(stream) {
    return '# The history of one stream: its events in log order, with who\n' +
      '# recorded each, when, in which request, and its data.\n' +
      'query StreamHistory($stream: String!) {\n' +
      '  events(filter: { stream: $stream }, first: 50) {\n' +
      '    totalCount\n' +
      '    edges {\n' +
      '      node {\n' +
      '        revision\n' +
      '        type\n' +
      '        recordedAt\n' +
      '        actor {\n' +
      '          userId\n' +
      '          role\n' +
      '        }\n' +
      '        correlationId\n' +
      '        data\n' +
      '      }\n' +
      '    }\n' +
      '  }\n' +
      '}\n';
  }

  // openHistory opens a tab with the history query of ev's stream, as the
  // user the feed listens as.
  function openHistory(ctx, ev) {
    var headers = live.key || '';
    ctx.addTab();
    // addTab fills the new tab's editors when React applies it; write the
    // query after that.
    setTimeout(function () {
      if (ctx.queryEditor) ctx.queryEditor.setValue(historyQuery(ev.stream));
      if (ctx.variableEditor) ctx.variableEditor.setValue(JSON.stringify({ stream: ev.stream }, null, 2));
      if (ctx.headerEditor) ctx.headerEditor.setValue(headers);
    }, 0);
  }

  function formatTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
  }

  function LivePanel() {
    var pair = useHeaderText();
    var text = pair[0];
    var ctx = pair[1];
    var feed = useLive();
    React.useEffect(function () {
      if (!feed.started) liveStart(text);
    }, []);
    var status;
    if (feed.status === 'connecting') status = 'Connecting as ' + feed.label + '…';
    else if (feed.status === 'listening') status = 'Listening as ' + feed.label + ': the events of the streams it sees, as they are appended.';
    else if (feed.status === 'closed') status = feed.message;
    else status = 'Not listening.';
    return h('div', { className: 'pg-live' },
      h('h2', null, 'Live events'),
      h('div', { className: 'pg-status' + (feed.status === 'closed' ? ' pg-closed' : ''), role: 'status' }, status),
      h('div', { className: 'pg-actions' },
        h('button', { type: 'button', onClick: function () { liveStart(text); } },
          feed.status === 'closed' ? 'Reconnect' : 'Listen as this tab\u2019s user'),
        h('button', { type: 'button', onClick: function () { liveSet({ events: [] }); } }, 'Clear')),
      feed.events.length === 0
        ? h('p', { className: 'pg-status' }, 'No events yet: run a mutation in a tab.')
        : h('ol', null, feed.events.map(function (ev) {
          return h('li', { key: ev.id, className: 'pg-event' },
            h('div', null, h('span', { className: 'pg-type' }, ev.type), ' ',
              h('time', { dateTime: ev.recordedAt, title: ev.recordedAt }, formatTime(ev.recordedAt))),
            h('div', { className: 'pg-meta' }, ev.stream + ' #' + ev.revision),
            h('div', { className: 'pg-meta' }, ev.actor.role + ' ' + ev.actor.userId),
            h('button', { type: 'button', onClick: function () { openHistory(ctx, ev); } }, 'Open history'));
        })));
  }

  function LiveIcon() {
    return h('svg', { viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 1.5, height: '1em', 'aria-hidden': true },
      h('circle', { cx: 12, cy: 12, r: 2.5 }),
      h('path', { d: 'M7.8 7.8a6 6 0 0 0 0 8.4M16.2 7.8a6 6 0 0 1 0 8.4M4.9 4.9a10 10 0 0 0 0 14.2M19.1 4.9a10 10 0 0 1 0 14.2' }));
  }

  // --- The role switcher ------------------------------------------------
  function RoleSwitcher() {
    var pair = useHeaderText();
    var text = pair[0];
    var ctx = pair[1];
    // The live feed follows the active tab's user, once the headers have
    // stopped changing (not at every keystroke in the editor).
    React.useEffect(function () {
      if (!live.started || live.key === text) return undefined;
      var t = setTimeout(function () { liveStart(text); }, 400);
      return function () { clearTimeout(t); };
    }, [text]);
    if (roles.length === 0) {
      return h('span', { className: 'pg-role pg-note' }, 'Put a bearer token in the headers: {"Authorization": "Bearer \u2026"}');
    }
    var current = roleOfHeaders(text);
    var options = roles.map(function (r) { return h('option', { key: r.label, value: r.label }, r.label); });
    if (!current) options.unshift(h('option', { key: '', value: '' }, 'another token'));
    return h('div', { className: 'pg-role' },
      h('label', { htmlFor: 'pg-role-select' }, 'Act as'),
      h('select', {
        id: 'pg-role-select',
        value: current ? current.label : '',
        onChange: function (e) { setRole(ctx.headerEditor, e.target.value); }
      }, options));
  }

  // --- GraphiQL ---------------------------------------------------------
  var props = {
    fetcher: fetcher,
    storage: storage,
    plugins: [
      GraphiQLPluginExplorer.explorerPlugin(),
      { title: 'Live events', icon: LiveIcon, content: LivePanel }
    ],
    defaultEditorToolsVisibility: config.headers || roles.length ? 'headers' : false,
    // Each tab keeps its own user across a reload (within this page's
    // namespace, see above).
    shouldPersistHeaders: roles.length > 0
  };
  if (config.headers) props.defaultHeaders = config.headers;
  if (config.tabs && config.tabs.length) {
    props.defaultTabs = config.tabs.map(function (t) {
      return { query: t.query, variables: t.variables || null, headers: t.headers || config.headers || null };
    });
    // GraphiQL fills the first tab's query from defaultTabs but its
    // variables and headers editors from these props: give them the first
    // tab's, unless tabs stored earlier open instead.
    if (!storage.getItem('graphiql:tabState')) {
      props.variables = props.defaultTabs[0].variables || '';
      props.headers = props.defaultTabs[0].headers || '';
    }
  }
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(h(GraphiQL, props, h(GraphiQL.Logo, null, h(RoleSwitcher))));
})();
