// What an older twilio-chat (the session-over-Sync-list generation, 2.x-4.x)
// asks of Parley first: every twilsock frame it sends and receives, and any
// plain HTTP request it makes, printed in order (docs/realtime-protocol.md §9).
//
//   node probe-legacy.js <package> [seconds]
//     package: twilio-chat-4 | twilio-chat-3 | twilio-chat-2 (tests/node/package.json)
//     env:     PARLEY_WS (ws://host:port/v3/wsconnect), PARLEY_TOKEN (an access token)
//
// A research tool, not a test (scenarios.js tests these versions): it prints
// what happens, stops after [seconds] (default 5) and exits 0 whatever happened.
'use strict';

const WS = require('ws');
const { XMLHttpRequest: NodeXHR } = require('xmlhttprequest');

const pkg = process.argv[2];
const seconds = Number(process.argv[3] || 5);
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing ${name}`);
  return value;
};
const wsUrl = env('PARLEY_WS');
const token = env('PARLEY_TOKEN');
const start = Date.now();
const at = () => String(Date.now() - start).padStart(5);
const clip = (text, n = 240) => (text.length > n ? `${text.slice(0, n)}…` : text);

// TWILSOCK V3.0 <header bytes>\r\n<header JSON>\r\n<payload>
function decode(data) {
  const text = Buffer.from(data).toString('utf8');
  const first = text.indexOf('\r\n');
  const size = Number(text.slice(0, first).split(' ')[2]);
  const headerBytes = Buffer.from(text.slice(first + 2), 'utf8').subarray(0, size);
  const header = JSON.parse(headerBytes.toString('utf8'));
  const rest = Buffer.from(text.slice(first + 2), 'utf8').subarray(size + 2).toString('utf8');
  return { header, payload: rest };
}

function describe(direction, data) {
  let frame;
  try {
    frame = decode(data);
  } catch (error) {
    return `${at()} ${direction} (not a twilsock frame) ${clip(String(data))}`;
  }
  const { header, payload } = frame;
  const parts = [at(), direction, header.method];
  if (header.method === 'init') parts.push(`capabilities=${JSON.stringify(header.capabilities)}`);
  if (header.http_request) {
    const r = header.http_request;
    parts.push(`${r.method} ${r.host || ''}${r.path}`, JSON.stringify(r.params || {}));
  }
  if (header.status) parts.push(`status=${header.status.code}`);
  if (header.http_status) parts.push(`http=${header.http_status.code}`);
  if (header.message_type) parts.push(header.message_type);
  if (payload) parts.push(clip(payload));
  return parts.join(' ');
}

// every SDK generation takes global.WebSocket before the ws package
class LoggedWebSocket extends WS {
  constructor(url, ...rest) {
    super(url, ...rest);
    console.log(`${at()} websocket ${url}`);
    this.on('message', (data) => console.log(describe('<<', data)));
    this.on('close', (code) => console.log(`${at()} websocket closed ${code}`));
  }

  send(data, ...rest) {
    const text = describe('>>', data);
    if (!/ >> reply /.test(text)) console.log(text); // acks of our frames: noise
    return super.send(data, ...rest);
  }
}
global.WebSocket = LoggedWebSocket;

// media and (2.x) requests made before the socket is up go over plain HTTP
global.XMLHttpRequest = function LoggedXHR() {
  const xhr = new NodeXHR();
  const open = xhr.open.bind(xhr);
  xhr.open = (method, url, ...rest) => {
    console.log(`${at()} http ${method} ${url}`);
    return open(method, url, ...rest);
  };
  return xhr;
};

process.on('unhandledRejection', (reason) => console.log(`${at()} unhandled ${clip(String(reason))}`));

const { Client } = require(pkg);
// 3.x/4.x (twilsock 0.5/0.6) take the whole URL; 2.x (twilsock 0.3) appends
// /v3/wsconnect to Twilsock.uri itself
const uri = pkg === 'twilio-chat-2' ? wsUrl.replace(/\/v3\/wsconnect$/, '') : wsUrl;
console.log(`${at()} ${pkg} ${Client.version || ''} Twilsock.uri=${uri}`);
Client.create(token, { Twilsock: { uri }, logLevel: 'silent' }).then(
  (client) => console.log(`${at()} Client.create resolved: ${client.connectionState}`),
  (error) => console.log(`${at()} Client.create rejected: ${clip(String(error))}`)
);
setTimeout(() => {
  console.log(`${at()} stop after ${seconds} s`);
  process.exit(0);
}, seconds * 1000);
