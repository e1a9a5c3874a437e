import assert from "node:assert/strict";
import { test } from "node:test";

import { MemoryStorage, flush, setup } from "./fakes.mjs";

test("subscribers get message.data by type, as the web app's listeners expect", async () => {
  const t = await setup();
  const requests = [];
  const messages = [];
  t.realtime.subscribe("friend_request", (data) => requests.push(data));
  const unsubscribe = t.realtime.subscribe("new_message", (data, frame) =>
    messages.push([data.content, frame.id]),
  );
  t.socket.establish();
  t.socket.event(1, "friend_request", { request_id: 3, from_user: { id: 2 } });
  t.socket.event(2, "new_message", { content: "hi" });
  unsubscribe();
  t.socket.event(3, "new_message", { content: "not seen" });

  assert.deepEqual(requests, [{ request_id: 3, from_user: { id: 2 } }]);
  assert.deepEqual(messages, [["hi", 2]]);
  assert.deepEqual(t.record.delivered, [1, 2, 3]);
});

test("an event whose id was already delivered is dropped", async () => {
  const t = await setup();
  t.socket.establish({ lastEventId: 10 });
  t.socket.event(10); // the server's newest when we connected: the app's REST state has it
  t.socket.event(11);
  t.socket.event(11);
  t.socket.event(9);
  t.socket.event(12);
  assert.deepEqual(t.record.delivered, [11, 12]);
  assert.equal(t.realtime.lastEventId, 12);
});

test("a replay that overlaps what was delivered before the drop delivers only the new ones", async () => {
  const t = await setup();
  t.socket.establish({ lastEventId: 0 });
  t.socket.event(1);
  t.socket.event(2);
  t.socket.serverClose(1013);
  await t.clock.advance(250);
  assert.equal(t.socket.params.last_event_id, "2");

  t.socket.establish({ lastEventId: 4 });
  for (const id of [2, 3, 4]) t.socket.event(id);
  t.socket.push({ type: "replay_complete", count: 3 });
  t.socket.event(4); // a late live push of a replayed event
  t.socket.event(5);
  assert.deepEqual(t.record.delivered, [1, 2, 3, 4, 5]);
});

test("recovered: false asks the app to reload and carries on from the server's newest", async () => {
  const t = await setup();
  const replays = [];
  t.realtime.on("replay", (info) => replays.push(info));
  t.socket.establish({ lastEventId: 5 });
  t.socket.serverClose(1006);
  await t.clock.advance(250);

  t.socket.establish({ lastEventId: 900 });
  t.socket.push({ type: "replay_complete", count: 0, recovered: false });
  assert.deepEqual(t.record.reloads, ["fresh", "not_recovered"]);
  assert.deepEqual(replays, [{ count: 0, recovered: false }]);
  t.socket.event(900); // older than the reload: already in the REST state
  t.socket.event(901);
  assert.deepEqual(t.record.delivered, [901]);

  t.socket.serverClose(1006);
  await t.clock.advance(250);
  assert.equal(t.socket.params.last_event_id, "901");
});

test("a server whose history is older than ours (a reset database) is followed, with a reload", async () => {
  const t = await setup();
  t.socket.establish({ lastEventId: 50 });
  t.socket.serverClose(1006);
  await t.clock.advance(250);
  t.socket.establish({ lastEventId: 3 });
  t.socket.push({ type: "replay_complete", count: 0 });
  t.socket.event(4);
  assert.deepEqual(t.record.delivered, [4]);
  assert.deepEqual(t.record.reloads, ["fresh", "history_reset"]);
});

test("the position is kept per user in storage, and a new page resumes from it", async () => {
  const storage = new MemoryStorage();
  const first = await setup({ storage, userId: 7 });
  first.socket.establish({ userId: 7, lastEventId: 20 });
  first.socket.event(21);
  first.realtime.close();
  assert.equal(storage.getItem("numeneon.realtime.last_event_id:7"), "21");

  const again = await setup({ storage, userId: 7 });
  assert.equal(again.socket.params.last_event_id, "21");
  again.socket.establish({ userId: 7, lastEventId: 23 });
  again.socket.event(21);
  again.socket.event(22);
  again.socket.event(23);
  assert.deepEqual(again.record.delivered, [22, 23]);
  assert.deepEqual(again.record.reloads, []);

  const someoneElse = await setup({ storage, userId: 8 });
  assert.equal(someoneElse.socket.params.last_event_id, undefined);
});

test("a credential of another user than the stored position's does not resume that position", async () => {
  const storage = new MemoryStorage();
  storage.setItem("numeneon.realtime.last_event_id:7", "500");
  const t = await setup({ storage, userId: 7 });
  assert.equal(t.socket.params.last_event_id, "500");
  t.socket.establish({ userId: 8, lastEventId: 12 });
  t.socket.push({ type: "replay_complete", count: 0 });
  t.socket.event(13);
  assert.deepEqual(t.record.delivered, [13]);
  assert.deepEqual(t.record.reloads, ["user_changed"]);
  assert.equal(storage.getItem("numeneon.realtime.last_event_id:7"), "500");
  assert.equal(storage.getItem("numeneon.realtime.last_event_id:8"), "13");
});

test("storage that throws (private mode, quota) leaves the memory position working", async () => {
  const broken = {
    getItem() {
      throw new Error("SecurityError");
    },
    setItem() {
      throw new Error("QuotaExceededError");
    },
  };
  const t = await setup({ storage: broken, userId: 7 });
  t.socket.establish({ userId: 7, lastEventId: 1 });
  t.socket.event(2);
  t.socket.event(2);
  assert.deepEqual(t.record.delivered, [2]);
});

test("a listener that throws neither stops the others nor causes a redelivery", async () => {
  const t = await setup();
  const seen = [];
  t.realtime.subscribe("new_message", () => {
    throw new Error("bug in the app");
  });
  t.realtime.subscribe("new_message", (data) => seen.push(data.id));
  t.socket.establish();
  t.socket.event(1);
  t.socket.serverClose(1006);
  await t.clock.advance(250);
  t.socket.establish({ lastEventId: 1 });
  t.socket.event(1);
  assert.deepEqual(seen, [1]);
  assert.equal(t.socket.params.last_event_id, "1");
});

test("frames that are not JSON objects, pongs and error frames reach no subscriber", async () => {
  const t = await setup();
  const errors = [];
  t.realtime.on("error", (frame) => errors.push(frame.code));
  t.socket.establish();
  t.socket.push("not json");
  t.socket.push("[1, 2]");
  t.socket.push({ type: "pong" });
  t.socket.push({ type: "error", code: "unknown_type", message: "Unknown frame type." });
  assert.deepEqual(t.record.delivered, []);
  assert.deepEqual(errors, ["unknown_type"]);
});

test("ack marks read up to the newest delivered event, over the socket", async () => {
  const t = await setup();
  assert.equal(t.realtime.ack(), false); // not connected yet
  t.socket.establish({ lastEventId: 4 });
  t.socket.event(5);
  assert.equal(t.realtime.ack(), true);
  assert.deepEqual(t.socket.sent, [{ type: "ack", last_event_id: 5 }]);
  await flush();
});

test("the newer event types reach subscribers once each and in id order, across a replay", async () => {
  const t = await setup();
  const types = [
    "friend_request_declined",
    "friend_request_cancelled",
    "friend_removed",
    "message_sent",
  ];
  const seen = [];
  for (const type of types) {
    t.realtime.subscribe(type, (data, frame) => seen.push([frame.id, type, data]));
  }
  const sent = {
    friend_request_declined: { request_id: 4, by: { id: 2, username: "bob" } },
    friend_request_cancelled: { request_id: 5, from_user: { id: 3, username: "charlie" } },
    friend_removed: { user: { id: 2, username: "bob" } },
    message_sent: { id: 9, content: "from my other tab", sender: { id: 7 }, receiver: { id: 2 } },
  };
  t.socket.establish({ lastEventId: 0 });
  t.socket.event(1, "friend_request_declined", sent.friend_request_declined);
  t.socket.event(2, "friend_request_cancelled", sent.friend_request_cancelled);
  t.socket.serverClose(1006);
  await t.clock.advance(250);

  // The replay repeats 2 before the new ones; a late live push repeats 4.
  t.socket.establish({ lastEventId: 4 });
  t.socket.event(2, "friend_request_cancelled", sent.friend_request_cancelled);
  t.socket.event(3, "friend_removed", sent.friend_removed);
  t.socket.event(4, "message_sent", sent.message_sent);
  t.socket.push({ type: "replay_complete", count: 3 });
  t.socket.event(4, "message_sent", sent.message_sent);

  assert.deepEqual(seen, types.map((type, index) => [index + 1, type, sent[type]]));
  assert.deepEqual(t.record.delivered, [1, 2, 3, 4]);
});
