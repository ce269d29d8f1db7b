// Reference echo server on node's `ws`: node ref_ws_server.js PORT [--deflate]
'use strict';
const { WebSocketServer } = require('ws');
const port = parseInt(process.argv[2], 10);
const deflate = process.argv.includes('--deflate');
const wss = new WebSocketServer({
  host: '127.0.0.1', port, path: '/ws', maxPayload: 10 * 1024 * 1024,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
