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
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
