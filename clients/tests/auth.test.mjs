import assert from "node:assert/strict";
import { test } from "node:test";

import { ticketFetcher } from "../numeneon-realtime.js";
import { setup } from "./fakes.mjs";

for (const code of [4001, 4003]) {
  test(`${code} stops for good and calls onAuthFailure`, async () => {
    const t = await setup();
    t.socket.serverClose(code, "bad credential");
    assert.deepEqual(t.record.authFailures, [{ code, reason: "auth_failed" }]);
    assert.equal(t.realtime.status, "stopped");
    assert.deepEqual(t.clock.pending(), []);
    t.network.dispatchEvent(new Event("online"));
    await t.clock.advance(60000);
    assert.equal(t.sockets.length, 1);
  });
}

test("4002 (token expired) asks for a fresh credential and resumes at once", async () => {
  const t = await setup();
  t.socket.establish({ lastEventId: 6 });
  t.socket.event(7);
  t.socket.serverClose(4002);
  assert.equal(t.realtime.status, "reconnecting");
  await t.clock.advance(0);
  assert.deepEqual(t.record.credentialRequests, ["connect", "expired"]);
  assert.deepEqual(t.socket.params, { token: "token-2", last_event_id: "7" });
  assert.deepEqual(t.record.authFailures, []);

  // Later reconnects are ordinary again.
  t.socket.establish({ lastEventId: 7 });
  t.socket.serverClose(1006);
  await t.clock.advance(250);
  assert.deepEqual(t.record.credentialRequests, ["connect", "expired", "connect"]);
});

test("4009 (replaced by a newer socket of the same user) stops without an auth failure", async () => {
  const t = await setup();
  t.socket.establish();
  t.socket.serverClose(4009);
  assert.equal(t.realtime.status, "stopped");
  assert.equal(t.record.statuses.at(-1).reason, "replaced");
  assert.deepEqual(t.record.authFailures, []);
  await t.clock.advance(60000);
  assert.equal(t.sockets.length, 1);
});

test("4008 (too many frames) reconnects with backoff and a fresh credential", async () => {
  const t = await setup();
  t.socket.establish();
  t.socket.serverClose(4008);
  await t.clock.advance(250);
  assert.equal(t.sockets.length, 2);
  assert.equal(t.socket.params.token, "token-2");
});

test("no credential means logged out: stop and report it", async () => {
  const t = await setup({ getToken: () => null });
  assert.equal(t.sockets.length, 0);
  assert.equal(t.realtime.status, "stopped");
  assert.deepEqual(t.record.authFailures, [{ code: null, reason: "no_credential" }]);
});

test("getTicket is preferred, and each attempt gets a ticket of its own", async () => {
  let issued = 0;
  const t = await setup({ getTicket: async () => `ticket-${++issued}` });
  assert.deepEqual(t.socket.params, { ticket: "ticket-1" });
  t.socket.establish({ lastEventId: 2 });
  t.socket.serverClose(1012);
  await t.clock.advance(0);
  assert.deepEqual(t.socket.params, { ticket: "ticket-2", last_event_id: "2" });
  assert.deepEqual(t.record.credentialRequests, []); // getToken never asked
});

test("credentials are URL-encoded into the query", async () => {
  const t = await setup({
    url: "wss://api.example/ws/notifications/?v=1",
    getToken: () => "a+b/c=",
  });
  assert.equal(t.socket.url, "wss://api.example/ws/notifications/?v=1&token=a%2Bb%2Fc%3D");
});

test("ticketFetcher posts to /api/auth/ws-ticket/ with the access token", async () => {
  const calls = [];
  const answers = [
    { status: 201, ok: true, json: async () => ({ ticket: "t-1", expires_in: 30 }) },
    { status: 401, ok: false },
    { status: 503, ok: false },
  ];
  const getTicket = ticketFetcher({
    baseUrl: "https://api.example",
    getAccessToken: async () => "jwt",
    fetch: async (url, init) => {
      calls.push([url, init.method, init.headers.Authorization]);
      return answers.shift();
    },
  });
  assert.equal(await getTicket({ reason: "connect" }), "t-1");
  assert.equal(await getTicket({ reason: "connect" }), null);
  await assert.rejects(getTicket({ reason: "connect" }), /503/);
  assert.deepEqual(calls[0], ["https://api.example/api/auth/ws-ticket/", "POST", "Bearer jwt"]);

  const loggedOut = ticketFetcher({ getAccessToken: () => null, fetch: () => assert.fail() });
  assert.equal(await loggedOut({ reason: "connect" }), null);
});
