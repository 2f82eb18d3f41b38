// A CouchDB-compatible HTTP server for Owl's store tests: express-pouchdb over PouchDB.
//
//   node server.js PORT [DATA_DIR]
//
// Listens on 127.0.0.1:PORT only. Without DATA_DIR the databases live in memory and die with the
// process; with it they are LevelDB directories under DATA_DIR.
//
// Why not the stock `pouchdb-server` command (docs: shared/design/environment.md): its gzip
// middleware buffers responses, and an unexpected request (a `_changes` filter it does not know)
// throws outside any request handler and takes the whole process down. Here express-pouchdb runs
// with only the CouchDB API parts Owl uses, without compression, and errors are caught and logged.
//
// No credentials: authentication and authorization are left out, so every request is accepted
// and an Authorization header (any user, any password) is ignored.
'use strict';

const fs = require('fs');
const path = require('path');
const express = require('express');
const expressPouchDB = require('express-pouchdb');

const [port, dataDir] = process.argv.slice(2);
if (!/^[0-9]+$/.test(port || '')) {
  console.error('usage: node server.js PORT [DATA_DIR]');
  process.exit(2);
}

if (dataDir) {
  fs.mkdirSync(dataDir, { recursive: true });
}

const PouchDB = require('pouchdb-core')
  .plugin(require('pouchdb-adapter-http'))
  .plugin(require(dataDir ? 'pouchdb-adapter-leveldb' : 'pouchdb-adapter-memory'))
  .plugin(require('pouchdb-mapreduce'))
  .plugin(require('pouchdb-replication'));

const Store = dataDir
  ? PouchDB.defaults({ adapter: 'leveldb', prefix: path.resolve(dataDir) + path.sep })
  : PouchDB.defaults({ adapter: 'memory' });

// The parts of the CouchDB API Owl's store needs (and a few harmless neighbours); everything that
// keeps configuration or log files, checks credentials or compresses is left out.
const parts = [
  'routes/root',
  'routes/session-stub',
  'routes/all-dbs',
  'routes/db',
  'routes/bulk-docs',
  'routes/bulk-get',
  'routes/all-docs',
  'routes/changes',
  'routes/compact',
  'routes/revs-diff',
  'routes/view-cleanup',
  'routes/temp-views',
  'routes/find',
  'routes/views',
  'routes/ddoc-info',
  'routes/documents',
  'routes/404',
];

const app = express();
app.disable('x-powered-by');
app.use(expressPouchDB(Store, { mode: 'custom', overrideMode: { include: parts } }));

// A handler that fails answers 500 instead of leaving the request hanging.
app.use((err, req, res, next) => {
  console.error(`${new Date().toISOString()} ${req.method} ${req.url}: ${(err && err.stack) || err}`);
  if (res.headersSent) {
    return next(err);
  }
  res.status(500).json({ error: 'internal_server_error', reason: String((err && err.message) || err) });
});

// The guard: a failure outside any request (PouchDB's own asynchronous code) is logged, and the
// server goes on serving the other requests.
process.on('uncaughtException', (err) => {
  console.error(`${new Date().toISOString()} uncaught: ${(err && err.stack) || err}`);
});
process.on('unhandledRejection', (err) => {
  console.error(`${new Date().toISOString()} unhandled rejection: ${(err && err.stack) || err}`);
});

const server = app.listen(Number(port), '127.0.0.1', () => {
  const where = dataDir ? `data in ${path.resolve(dataDir)}` : 'in memory';
  console.log(`listening on http://127.0.0.1:${port} (${where})`);
});
server.on('error', (err) => {
  console.error(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
