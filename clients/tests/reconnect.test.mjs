import assert from "node:assert/strict";
import { test } from "node:test";

import { flush, setup } from "./fakes.mjs";

const lastStatus = (record) => record.statuses.at(-1);

test("connects with the token and no last_event_id the first time", async () => {
  const t = await setup();
  assert.equal(t.sockets.length, 1);
  assert.deepEqual(t.socket.params, { token: "token-1" });
  assert.equal(t.realtime.status, "connecting");
  assert.equal(t.realtime.isConnected, false);

  t.socket.establish({ userId: 7, lastEventId: 41 });
  assert.equal(t.realtime.isConnected, true);
  assert.deepEqual(lastStatus(t.record), { status: "connected", userId: 7, resumed: false });
  assert.equal(t.realtime.lastEventId, 41);
  // Nothing to resume from: the app loads its state over REST now, gap-free from here on.
  assert.deepEqual(t.record.reloads, ["fresh"]);
});

test("a dropped socket reconnects after a jittered delay and resumes from the last event", async () => {
  const t = await setup();
  t.socket.establish({ lastEventId: 3 });
  t.socket.event(4);
  t.socket.event(5);
  t.socket.serverClose(1006);

  assert.equal(t.realtime.isConnected, false);
  assert.deepEqual(lastStatus(t.record), {
    status: "reconnecting",
    code: 1006,
    reason: "",
    delay: 250, // random() = 0.5 of the first ceiling, 500 ms
    attempt: 1,
  });
  await t.clock.advance(249);
  assert.equal(t.sockets.length, 1);
  await t.clock.advance(1);
  assert.equal(t.sockets.length, 2);
  assert.deepEqual(t.socket.params, { token: "token-2", last_event_id: "5" });

  t.socket.establish({ lastEventId: 7 });
  t.socket.event(6);
  t.socket.event(7);
  t.socket.push({ type: "replay_complete", count: 2 });
  assert.deepEqual(t.record.delivered, [4, 5, 6, 7]);
  assert.deepEqual(t.record.reloads, ["fresh"]); // resumed: no reload
  assert.equal(lastStatus(t.record).resumed, true);
});

test("the backoff doubles from 0.5 s up to 15 s with full jitter, and resets once connected", async () => {
  let roll = 0.999;
  const t = await setup({ random: () => roll });
  const delays = [];
  for (let n = 0; n < 7; n++) {
    t.socket.serverClose(1006);
    delays.push(lastStatus(t.record).delay);
    await t.clock.advance(lastStatus(t.record).delay);
  }
  assert.deepEqual(delays, [499, 999, 1998, 3996, 7992, 14985, 14985]);

  roll = 0; // full jitter: anywhere from zero to the ceiling
  t.socket.serverClose(1006);
  assert.equal(lastStatus(t.record).delay, 0);
  await t.clock.advance(0);

  roll = 0.999;
  t.socket.establish();
  t.socket.serverClose(1006);
  assert.equal(lastStatus(t.record).delay, 499);
});

test("it keeps trying for as long as the server stays away", async () => {
  const t = await setup();
  for (let n = 0; n < 200; n++) {
    t.socket.serverClose(1006);
    await t.clock.advance(15000);
  }
  assert.equal(t.sockets.length, 201);
  assert.equal(t.realtime.status, "connecting");
});

test("1012 (a server restart) reconnects at once", async () => {
  const t = await setup();
  t.socket.establish({ lastEventId: 9 });
  t.socket.serverClose(1012);
  assert.equal(lastStatus(t.record).delay, 0);
  await t.clock.advance(0);
  assert.equal(t.sockets.length, 2);
  assert.equal(t.socket.params.last_event_id, "9");

  // The new server is not up yet: from there on, the usual backoff.
  t.socket.serverClose(1006);
  assert.equal(lastStatus(t.record).delay, 250);
});

test("the browser's online event cuts the wait short", async () => {
  const t = await setup({ random: () => 0.999 });
  t.socket.establish();
  for (let n = 0; n < 5; n++) {
    t.socket.serverClose(1006);
    await t.clock.advance(lastStatus(t.record).delay);
  }
  t.socket.serverClose(1006);
  assert.equal(lastStatus(t.record).delay, 14985);

  t.network.dispatchEvent(new Event("online"));
  await flush();
  assert.equal(t.sockets.length, 7);
  assert.deepEqual(t.clock.pending(), [15000]); // only the new socket's connect timeout
});

test("going offline drops the socket at once instead of waiting for it to time out", async () => {
  const t = await setup();
  t.socket.establish({ lastEventId: 2 });
  const offline = t.socket;
  t.network.dispatchEvent(new Event("offline"));

  assert.equal(offline.closedWith, 1000);
  assert.equal(t.realtime.isConnected, false);
  assert.equal(lastStatus(t.record).reason, "offline");
  offline.event(3); // whatever the dropped socket still says is not this client's business
  assert.deepEqual(t.record.delivered, []);

  t.network.dispatchEvent(new Event("online"));
  await flush();
  assert.equal(t.sockets.length, 2);
  assert.equal(t.socket.params.last_event_id, "2");
});

test("an online event while connected checks the socket with a ping", async () => {
  const t = await setup();
  t.socket.establish();
  t.network.dispatchEvent(new Event("online"));
  assert.deepEqual(t.socket.sent, [{ type: "ping" }]);
  assert.equal(t.sockets.length, 1);
});

test("a ping goes out every 25 s and a missing pong after 10 s means reconnect", async () => {
  const t = await setup();
  t.socket.establish();
  await t.clock.advance(24999);
  assert.deepEqual(t.socket.sent, []);
  await t.clock.advance(1);
  assert.deepEqual(t.socket.sent, [{ type: "ping" }]);
  t.socket.push({ type: "pong" });

  await t.clock.advance(25000);
  assert.deepEqual(t.socket.sent, [{ type: "ping" }, { type: "ping" }]);
  const silent = t.socket;
  await t.clock.advance(9999);
  assert.equal(silent.closedWith, null);
  await t.clock.advance(1);
  assert.equal(silent.closedWith, 1000);
  assert.equal(t.realtime.isConnected, false);
  assert.equal(lastStatus(t.record).reason, "pong_timeout");

  await t.clock.advance(250);
  assert.equal(t.sockets.length, 2);
});

test("a socket that never says connection_established is given up after 15 s", async () => {
  const t = await setup();
  await t.clock.advance(15000);
  assert.equal(t.sockets[0].closedWith, 1000);
  assert.equal(lastStatus(t.record).reason, "connect_timeout");
  await t.clock.advance(250);
  assert.equal(t.sockets.length, 2);
});

test("close() ends everything: no reconnect, no timers, no network listeners", async () => {
  const t = await setup();
  t.socket.establish();
  const socket = t.socket;
  t.realtime.close();
  assert.equal(socket.closedWith, 1000);
  assert.equal(t.realtime.status, "closed");
  assert.equal(t.realtime.isConnected, false);
  assert.deepEqual(t.clock.pending(), []);

  socket.serverClose(1006);
  t.network.dispatchEvent(new Event("online"));
  await t.clock.advance(60000);
  assert.equal(t.sockets.length, 1);
});

test("close() during the credential request opens no socket", async () => {
  let release;
  const t = await setup({ getToken: () => new Promise((resolve) => (release = resolve)) });
  t.realtime.close();
  release("late-token");
  await flush();
  assert.equal(t.sockets.length, 0);
});

test("a failing credential request is retried with backoff", async () => {
  let calls = 0;
  const errors = [];
  const t = await setup({
    getToken: async () => {
      calls += 1;
      if (calls < 3) throw new Error("network down");
      return "token-ok";
    },
  });
  t.realtime.on("error", (error) => errors.push(error.code));
  await t.clock.advance(250);
  await t.clock.advance(500);
  assert.equal(calls, 3);
  assert.equal(t.sockets.length, 1);
  assert.equal(t.socket.params.token, "token-ok");
  assert.equal(t.record.statuses.filter((s) => s.reason === "credential_failed").length, 2);
  assert.deepEqual(errors, ["credential_failed"]); // the second came before on("error")
});
