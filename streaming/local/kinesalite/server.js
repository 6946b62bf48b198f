// Starts kinesalite on loopback only: its own CLI has no host option and listens on all
// interfaces. Data persists in a LevelDB folder so a restart keeps every record.
'use strict';
const kinesalite = require('kinesalite');

const [port = '4567', dataDir = ''] = process.argv.slice(2);
const options = { createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 500 };
if (dataDir) options.path = dataDir;

const server = kinesalite(options);
server.listen(Number(port), '127.0.0.1', (err) => {
  if (err) {
    console.error(`kinesalite: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  console.log(`kinesalite listening on http://127.0.0.1:${port} data=${dataDir || 'memory'}`);
});
// kinesalite rethrows a request's 'error' (index.js: req.on('error', err => { throw err })),
// so a client that dies mid-request (a gateway or job killed while a PutRecords or
// GetRecords is in flight: ECONNRESET, "aborted") took the whole endpoint down with it. A
// request its client abandoned has no one to answer; anything else still ends the process.
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error(`kinesalite: a client went away mid-request (${err.code || err.message})`);
    return;
  }
  console.error(err);
  process.exit(1);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
