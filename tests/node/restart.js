// Parley restarts under a connected twilio-chat client: the client is offloaded
// (twilsock close 308), reconnects by itself, and a message written while it was
// away reaches it (replayed from the stored Sync event log).
// Protocol with test_twilio_chat.py: prints `ok ready-for-restart`, then waits for
// a line on stdin once Parley is back and the message was written.
'use strict';

const pkg = process.argv[2] || 'twilio-chat';
const { Client } = require(pkg);
const readline = require('readline');

const TOKENS = JSON.parse(process.env.PARLEY_TOKENS);

// Requests in flight when Parley offloads the socket fail with "disconnected" or
// a request timeout; twilio-chat 5.0.2's Sync layer leaves some of those
// rejections unhandled. 2.x sends a Sync request over plain HTTP while its socket
// is down (docs/decisions.md 48): while no Parley listens that one fails with
// status 0 (no answer at all), and nothing but a second instance could answer it.
// They are expected here; anything else (a 401 included) fails the run.
const unhandled = [];
process.on('unhandledRejection', (reason) => {
  const text = String(reason && reason.message);
  if (/disconnected|request timeout/.test(text)) return;
  if (pkg === 'twilio-chat-2' && reason && reason.name === 'SyncError' && reason.status === 0) {
    return;
  }
  unhandled.push(reason);
});
// 2.x's twilsock appends the path itself (docs/realtime-protocol.md §9.2)
const WS = process.env.PARLEY_WS;
const options = {
  Twilsock: { uri: pkg === 'twilio-chat-2' ? WS.replace(/\/v3\/wsconnect$/, '') : WS },
  logLevel: process.env.PARLEY_NODE_LOG || 'silent',
};

async function main() {
  const alice = await Client.create(TOKENS.alice, options);
  const channel = await alice.createChannel({ uniqueName: process.env.PARLEY_UNIQUE });
  await channel.sendMessage('before');
  const states = [];
  alice.on('connectionStateChanged', (state) => states.push(state));
  let replayed = false;
  channel.on('messageAdded', (m) => {
    if (m.body === 'while away') replayed = true;
  });
  console.log(`ok ready-for-restart ${channel.sid}`);
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once('line', resolve));
  // Depending on when it re-opens the channel's list, the SDK gets the message as a
  // replayed messageAdded (Sync replay from its last_event_id) or in the list it
  // re-reads; either way it must be there once the client is connected again.
  // (tests/realtime/test_sync.py proves the replay itself at the protocol level.)
  const deadline = Date.now() + 45000;
  const history = async () => (await channel.getMessages()).items.map((m) => m.body);
  // a request in flight when the socket was offloaded is lost and times out
  // (twilsock has no redelivery); ask again until the client is back
  const back = async () => {
    try {
      return replayed || (await history()).includes('while away');
    } catch (error) {
      return false;
    }
  };
  while (!states.includes('connected') || !(await back())) {
    if (Date.now() > deadline) throw new Error(`not back: ${states}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(`ok back after restart (${states.join(' -> ')}; messageAdded: ${replayed})`);
  const after = new Promise((resolve) => {
    channel.on('messageAdded', (m) => m.body === 'after' && resolve());
  });
  await channel.sendMessage('after');
  await after;
  const page = await channel.getMessages();
  const bodies = page.items.map((m) => m.body).join('|');
  if (bodies !== 'before|while away|after') throw new Error(`history ${bodies}`);
  if (unhandled.length) throw new Error(`unhandled rejections: ${unhandled.join('; ')}`);
  console.log('ok done');
  lines.close();
  await alice.shutdown();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.log(`FAIL ${error && error.stack ? error.stack : error}`);
    process.exit(1);
  }
);
