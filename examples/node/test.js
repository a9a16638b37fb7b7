// Testing a Node app that uses twilio-node 5.x against Parley instead of Twilio.
//
//   parley serve --ephemeral --port 8080      (with TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN
//                                              exported as PARLEY_ACCOUNT_SID / PARLEY_AUTH_TOKEN)
//   PARLEY_URL=http://127.0.0.1:8080 npm test
//
// See docs/testing.md. Node 18+ (node:test, fetch).
const { test, beforeEach, after } = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const twilio = require("twilio");

const PARLEY_URL = process.env.PARLEY_URL ?? "http://127.0.0.1:8080";
const ACCOUNT_SID = process.env.TWILIO_ACCOUNT_SID;
const AUTH_TOKEN = process.env.TWILIO_AUTH_TOKEN;

// twilio-node has no base-URL option; each domain keeps its own `baseUrl`
// (https://chat.twilio.com) and that property is public: point it at Parley.
const client = twilio(ACCOUNT_SID, AUTH_TOKEN);
client.chat.baseUrl = PARLEY_URL;

// Parley's control plane: reset, seed, state, webhook deliveries, faults.
async function control(method, name, body, contentType = "application/json") {
  const auth = Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString("base64");
  const response = await fetch(`${PARLEY_URL}/parley/v1/${name}`, {
    method,
    headers: { Authorization: `Basic ${auth}`, "Content-Type": contentType },
    body: typeof body === "string" || body === undefined ? body : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${name}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function waitForDeliveries(count) {
  for (let i = 0; i < 250; i++) {
    const { deliveries } = await control("GET", "webhooks/deliveries");
    const settled = deliveries.filter((d) => d.state !== "pending");
    if (settled.length >= count) return settled;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`expected ${count} settled webhook deliveries`);
}

// ---- the application code under test --------------------------------------

async function announce(serviceSid, text) {
  return client.chat.v2
    .services(serviceSid)
    .channels("announcements")
    .messages.create({ from: "bot", body: text, xTwilioWebhookEnabled: "true" });
}

// ---- the tests ------------------------------------------------------------

const SEED = `
services:
  - friendly_name: Newsroom
    channels:
      - unique_name: announcements
        members: [alice, bob]
        messages:
          - {from: alice, body: Welcome}
`;

beforeEach(() => control("POST", "reset"));

test("the announcement lands after the seeded message", async () => {
  await control("POST", "seed", SEED, "application/yaml");
  const [service] = await client.chat.v2.services.list();
  await announce(service.sid, "Maintenance at 6");
  const messages = await client.chat.v2
    .services(service.sid)
    .channels("announcements")
    .messages.list();
  assert.deepEqual(
    messages.map((m) => [m.index, m.from, m.body]),
    [
      [0, "alice", "Welcome"],
      [1, "bot", "Maintenance at 6"],
    ],
  );
});

test("a timed-out webhook is retried", async (t) => {
  const received = [];
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push(new URLSearchParams(body));
      res.end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  t.after(() => receiver.close());

  await control("POST", "seed", SEED, "application/yaml");
  const [service] = await client.chat.v2.services.list();
  await client.chat.v2.services(service.sid).update({
    postWebhookUrl: `http://127.0.0.1:${receiver.address().port}/hook`,
    webhookFilters: ["onMessageSent"],
    postWebhookRetryCount: 1,
  });
  await control("POST", "faults", { count: 1, timeout: true });
  await announce(service.sid, "Coffee is ready");

  const [delivery] = await waitForDeliveries(1);
  assert.equal(delivery.state, "done");
  assert.deepEqual(
    delivery.attempts.map((a) => [a.retry_count, a.status]),
    [
      [0, null],
      [1, 200],
    ],
  );
  assert.equal(received.length, 1);
  assert.equal(received[0].get("Body"), "Coffee is ready");
  assert.equal(received[0].get("RetryCount"), "1");
});

after(() => control("POST", "reset"));
