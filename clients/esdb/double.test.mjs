// The official EventStoreDB Node.js client (@eventstore/db-client) against
// the protocol double, as a second client that the double was not written
// with. Run by cmd/esdbdouble's TestNodeClient, which starts the double and
// sets ESDB_URL (and ESDB_SERVER_FEATURES=1 when the double lists
// BatchAppend, so the client appends through it):
//
//   ESDB_URL='esdb://127.0.0.1:2113?tls=false' node --test clients/esdb/
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  EventStoreDBClient,
  jsonEvent,
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  FORWARDS,
  BACKWARDS,
  START,
  END,
  excludeSystemEvents,
  WrongExpectedVersionError,
  StreamNotFoundError,
} from "@eventstore/db-client";

const url = process.env.ESDB_URL;
if (!url) {
  throw new Error("ESDB_URL is not set: the Go test TestNodeClient starts the double and sets it");
}
const features = process.env.ESDB_SERVER_FEATURES === "1";
const client = EventStoreDBClient.connectionString(url);
after(() => client.dispose());

// A fresh stream per test, in a category of its own.
const stream = (name) => `${name}-${randomUUID()}`;
const event = (n) => jsonEvent({ id: randomUUID(), type: "Tested", data: { n }, metadata: { by: "node" } });

const read = async (name, options) => {
  const out = [];
  for await (const e of client.readStream(name, options)) out.push(e.event);
  return out;
};

// (commit, prepare) order of $all.
const before = (a, b) => a.commit < b.commit || (a.commit === b.commit && a.prepare < b.prepare);

test("asks ServerFeatures at connect", async () => {
  const caps = await client.capabilities;
  if (features) {
    assert.equal(caps.serverVersion, "24.10.0");
  } else {
    assert.equal(caps.serverVersion, "unknown", "a node without ServerFeatures is taken for an older one");
  }
});

test("appends in every expected-revision mode", async () => {
  const s = stream("modes");
  let r = await client.appendToStream(s, event(0), { expectedRevision: NO_STREAM });
  assert.equal(r.success, true);
  assert.equal(r.nextExpectedRevision, 0n);
  r = await client.appendToStream(s, event(1), { expectedRevision: 0n });
  assert.equal(r.nextExpectedRevision, 1n);
  r = await client.appendToStream(s, event(2), { expectedRevision: STREAM_EXISTS });
  assert.equal(r.nextExpectedRevision, 2n);
  r = await client.appendToStream(s, event(3), { expectedRevision: ANY });
  assert.equal(r.nextExpectedRevision, 3n);
  r = await client.appendToStream(stream("modes"), event(0), { expectedRevision: ANY });
  assert.equal(r.nextExpectedRevision, 0n, "Any on a new stream");
  const got = await read(s);
  assert.deepEqual(got.map((e) => e.data.n), [0, 1, 2, 3]);
  assert.deepEqual(got.map((e) => e.revision), [0n, 1n, 2n, 3n]);
});

test("a wrong revision is WrongExpectedVersion with expected and actual", async () => {
  const s = stream("wrong");
  await client.appendToStream(s, [event(0), event(1)], { expectedRevision: NO_STREAM });
  const cases = [
    { name: s, expectedRevision: 0n, expected: 0n, actual: 1n },
    { name: s, expectedRevision: 5n, expected: 5n, actual: 1n },
    { name: s, expectedRevision: NO_STREAM, expected: "no_stream", actual: 1n },
    { name: stream("missing"), expectedRevision: STREAM_EXISTS, expected: "stream_exists", actual: "no_stream" },
    { name: stream("missing"), expectedRevision: 0n, expected: 0n, actual: "no_stream" },
  ];
  for (const c of cases) {
    await assert.rejects(client.appendToStream(c.name, event(9), { expectedRevision: c.expectedRevision }), (err) => {
      assert.ok(err instanceof WrongExpectedVersionError, `${err}`);
      assert.equal(err.streamName, c.name);
      assert.equal(err.expectedVersion, c.expected);
      assert.equal(err.actualVersion, c.actual);
      return true;
    });
  }
  assert.equal((await read(s)).length, 2, "nothing written by a refused append");
});

test("an append retried with the same event ids writes nothing twice", async () => {
  const s = stream("retry");
  const first = [event(0), event(1)];
  const a = await client.appendToStream(s, first, { expectedRevision: NO_STREAM });
  const b = await client.appendToStream(s, first, { expectedRevision: NO_STREAM });
  assert.equal(b.nextExpectedRevision, a.nextExpectedRevision);
  assert.deepEqual(b.position, a.position, "a retry answers the retried events' position");
  const next = [event(2)];
  const c = await client.appendToStream(s, next, { expectedRevision: 1n });
  const d = await client.appendToStream(s, next, { expectedRevision: 1n });
  assert.equal(d.nextExpectedRevision, c.nextExpectedRevision);
  const e = await client.appendToStream(s, next, { expectedRevision: ANY });
  assert.equal(e.nextExpectedRevision, 2n, "Any recognises the ids too");
  const got = await read(s);
  assert.deepEqual(
    got.map((x) => x.id),
    [...first, ...next].map((x) => x.id),
  );
});

test("reads a stream forwards and backwards, with its ids as sent", async () => {
  const s = stream("read");
  const sent = [0, 1, 2, 3, 4].map(event);
  await client.appendToStream(s, sent, { expectedRevision: NO_STREAM });
  const fwd = await read(s, { direction: FORWARDS, fromRevision: START });
  assert.deepEqual(fwd.map((e) => e.id), sent.map((e) => e.id));
  assert.deepEqual(fwd.map((e) => e.metadata), sent.map(() => ({ by: "node" })));
  assert.ok(fwd.every((e) => e.isJson && e.type === "Tested" && e.created instanceof Date && e.created.getTime() > 0));
  const from2 = await read(s, { direction: FORWARDS, fromRevision: 2n, maxCount: 2 });
  assert.deepEqual(from2.map((e) => e.revision), [2n, 3n]);
  const back = await read(s, { direction: BACKWARDS, fromRevision: END, maxCount: 3 });
  assert.deepEqual(back.map((e) => e.revision), [4n, 3n, 2n]);
  const back1 = await read(s, { direction: BACKWARDS, fromRevision: 1n });
  assert.deepEqual(back1.map((e) => e.revision), [1n, 0n]);
  await assert.rejects(read(stream("none")), StreamNotFoundError);
});

test("one append of several events: each its own position, the answer the last's", async () => {
  const s = stream("positions");
  const r = await client.appendToStream(s, [event(0), event(1), event(2)], { expectedRevision: NO_STREAM });
  const got = await read(s);
  assert.equal(got.length, 3);
  for (const e of got) {
    assert.equal(e.position.commit, e.position.prepare, `${e.position.commit}/${e.position.prepare}: commit is prepare`);
  }
  assert.ok(before(got[0].position, got[1].position) && before(got[1].position, got[2].position), "growing");
  assert.deepEqual(r.position, got[2].position, "the append's answer is its last event's position");
});

test("an append of no events is accepted and writes nothing", async () => {
  const s = stream("empty");
  const r = await client.appendToStream(s, [], { expectedRevision: ANY });
  assert.equal(r.success, true);
  await assert.rejects(read(s), StreamNotFoundError);
  await assert.rejects(client.appendToStream(s, [], { expectedRevision: STREAM_EXISTS }), WrongExpectedVersionError);
});

test("reads $all from the start", async () => {
  const s = stream("all");
  const sent = [event(0), event(1), event(2)];
  await client.appendToStream(s, sent, { expectedRevision: NO_STREAM });
  const all = [];
  for await (const e of client.readAll({ fromPosition: START, direction: FORWARDS, maxCount: 100000 })) all.push(e.event);
  for (let i = 1; i < all.length; i++) {
    assert.ok(before(all[i - 1].position, all[i].position), `$all out of order at ${i}`);
  }
  const mine = all.filter((e) => e.streamId === s);
  assert.deepEqual(mine.map((e) => e.id), sent.map((e) => e.id));
  assert.ok(all.some((e) => e.type === "$>" && e.streamId === "$ce-all"), "the category projection's links are in $all");
  const last = [];
  for await (const e of client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 })) last.push(e.event);
  assert.deepEqual(last[0].position, all[all.length - 1].position);
});

test("a catch-up subscription to $all, then live", async () => {
  const s = stream("sub");
  const old = [event(0), event(1)];
  await client.appendToStream(s, old, { expectedRevision: NO_STREAM });
  const live = [event(2)];
  const want = [...old, ...live].map((e) => e.id);
  const sub = client.subscribeToAll({ fromPosition: START, filter: excludeSystemEvents() });
  const got = [];
  let caughtUp = false;
  let appended = false;
  const done = new Promise((resolve, reject) => {
    sub.on("error", reject);
    sub.on("caughtUp", () => {
      caughtUp = true;
    });
    sub.on("data", async ({ event: e }) => {
      assert.ok(!e.type.startsWith("$"), `a system event passed the filter: ${e.type}`);
      if (e.streamId !== s) return;
      got.push(e.id);
      if (got.length === old.length && !appended) {
        appended = true;
        client.appendToStream(s, live, { expectedRevision: 1n }).catch(reject);
      }
      if (got.length === want.length) resolve();
    });
  });
  await done;
  await sub.unsubscribe();
  assert.ok(caughtUp, "the subscription said it caught up");
  assert.deepEqual(got, want);
});
