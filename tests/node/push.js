// Push notifications through the unmodified twilio-chat SDK (docs/push.md).
// Usage, with PARLEY_* set by tests/push/test_sdk.py:
//   node push.js register       bob (APNs) and carol (FCM) register their devices
//                               with setPushRegistrationId; alice sends a message
//   node push.js parse FILE     Client.parsePushNotification on each payload of
//                               FILE (what the fake gateways received); prints JSON
'use strict';

const fs = require('fs');
const { Client } = require('twilio-chat');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing ${name}`);
  return value;
};

async function until(condition, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met: ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function bindings(identity) {
  const auth = Buffer.from(`${env('PARLEY_ACCOUNT_SID')}:${env('PARLEY_AUTH_TOKEN')}`);
  const url = `${env('PARLEY_REST')}/v2/Services/${env('PARLEY_SERVICE_SID')}/Bindings?Identity=${identity}`;
  const response = await fetch(url, { headers: { Authorization: `Basic ${auth.toString('base64')}` } });
  return (await response.json()).bindings;
}

async function register() {
  const tokens = JSON.parse(env('PARLEY_TOKENS'));
  const options = { Twilsock: { uri: env('PARLEY_WS') }, logLevel: 'silent' };
  const bob = await Client.create(tokens.bob, options);
  await bob.setPushRegistrationId('apn', env('PARLEY_BOB_DEVICE'));
  const carol = await Client.create(tokens.carol, options);
  await carol.setPushRegistrationId('fcm', env('PARLEY_CAROL_DEVICE'));
  await until(async () => (await bindings('bob')).length === 1 && (await bindings('carol')).length === 1);
  console.log('ok registered');
  const alice = await Client.create(tokens.alice, options);
  const channel = await alice.getChannelBySid(env('PARLEY_CHANNEL_SID'));
  await channel.sendMessage('from the sdk');
  console.log('ok sent');
  await Promise.all([alice.shutdown(), bob.shutdown(), carol.shutdown()]);
}

function parse(file) {
  const payloads = JSON.parse(fs.readFileSync(file, 'utf8'));
  const parsed = payloads.map((payload) => {
    const push = Client.parsePushNotification(payload);
    return {
      type: push.type,
      body: push.body,
      title: push.title,
      sound: push.sound,
      badge: push.badge,
      action: push.action,
      data: push.data,
    };
  });
  console.log(JSON.stringify(parsed));
}

const mode = process.argv[2];
(mode === 'parse' ? Promise.resolve(parse(process.argv[3])) : register())
  .then(() => process.exit(0))
  .catch((error) => {
    console.error(error && error.stack ? error.stack : error);
    process.exit(1);
  });
