#!/usr/bin/env node
// The JavaScript client behind the same command line and output as the C `herald`
// (client/herald.c), so tests/integration/test_client_*.sh run one scenario against both:
//   node herald_cli.mjs sync URL --public-key K --state DIR [--dump DIR] [--filter F=V]
//        [--retries N] [--timeout-ms MS] [--print] bucket/collection...
//   node herald_cli.mjs show --state DIR --public-key K [--dump DIR] [--filter F=V] b/c
//   node herald_cli.mjs attachment URL --public-key K --state DIR b/c RECORD_ID
//   node herald_cli.mjs watch URL --public-key K --state DIR [--wait S] [--count N]
//        [--timeout S] [--poll-ms MS] [--print] [...] bucket/collection...
//        (watch(): "change B/C version=V records=N" per verified change, "sync status=S
//        monitor=M committed=0|1" per answer; exit 1 if --timeout came before --count)
// Exit status: 0 verified, 1 error (last verified copy kept), 2 usage, 3 backoff.
import fs from 'node:fs/promises';
import path from 'node:path';
import { HeraldClient, canonicalize } from '../../clients/js/src/index.js';
import { NodeDirStore } from '../../clients/js/src/stores/node_dir.js';

const argv = process.argv.slice(2);
const cmd = argv.shift();
const o = { publicKeys: [], items: [] };
if (cmd === 'sync' || cmd === 'attachment' || cmd === 'watch') o.url = argv.shift();
else if (cmd !== 'show') process.exit(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--public-key') o.publicKeys.push(argv[++i]);
  else if (a === '--state') o.state = argv[++i];
  else if (a === '--dump') o.dump = argv[++i];
  else if (a === '--retries') o.retries = Number(argv[++i]);
  else if (a === '--timeout-ms') o.timeout = Number(argv[++i]);
  else if (a === '--print') o.print = true;
  else if (cmd === 'watch' && a === '--wait') o.wait = Number(argv[++i]);
  else if (cmd === 'watch' && a === '--count') o.count = Number(argv[++i]);
  else if (cmd === 'watch' && a === '--timeout') o.watchTimeout = Number(argv[++i]);
  else if (cmd === 'watch' && a === '--poll-ms') o.pollMs = Number(argv[++i]);
  else if (a === '--filter') { const [f, v] = argv[++i].split('='); o.filter = (r) => r[f] === v; }
  else if (!a.startsWith('-')) o.items.push(a);
  else process.exit(2);
}
if (!o.state || o.items.length === 0) process.exit(2);

let changes = 0;
const client = new HeraldClient({
  onChange: cmd !== 'watch' ? undefined : (b, c, v) => {
    changes++;
    console.log(`change ${b}/${c} version=${v} records=${client.info(b, c).records}`);
    if (o.print) console.log(canonicalize(client.records(b, c)));
  },
  serverUrl: o.url, publicKeys: o.publicKeys, store: new NodeDirStore(o.state), filter: o.filter,
  maxRetries: o.retries ?? 2, timeoutMs: o.timeout, retryBaseMs: 250,
  dump: o.dump ? async (b, c) => { try { return JSON.parse(await fs.readFile(path.join(o.dump, b, c + '.json'), 'utf8')); } catch { return null; } } : undefined,
});
const colls = cmd === 'attachment' ? [o.items[0]] : o.items;
for (const item of colls) await client.follow(...item.split('/'));

if (cmd === 'attachment') {
  const [b, c] = o.items[0].split('/');
  try {
    await client.attachment(b, c, o.items[1]);
    const h = client.colls.get(`${b}/${c}`).state.records.find((r) => r.id === o.items[1]).attachment.hash;
    console.log(path.join(o.state, 'attachments', h));
  } catch (e) {
    console.error(`herald: attachment: ${e.code || e}`);
    process.exitCode = 1;
  }
} else {
let rc = 0;
if (cmd === 'watch') {
  const stop = new AbortController();
  const signals = [stop.signal];
  if (o.watchTimeout > 0) signals.push(AbortSignal.timeout(o.watchTimeout * 1000));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stop.abort());
  await client.watch({
    waitSeconds: o.wait, pollMs: o.pollMs, signal: AbortSignal.any(signals),
    onSync: (st, m) => {
      const f = client.freshness();
      console.log(`sync status=${st} monitor=${m} committed=${f.status === 'fresh' ? 1 : 0}`);
      if (o.count > 0 && changes >= o.count) stop.abort();
    },
  });
  if (o.count > 0 && changes < o.count) rc = 1;
} else if (cmd === 'sync') {
  const st = await client.sync();
  if (st === 'backoff') { console.error(`herald: backing off for ${client.backoffMs()} ms`); rc = 3; }
  else if (st !== 'ok') rc = 1;
}
for (const item of o.items) {
  const [b, c] = item.split('/');
  const i = client.info(b, c);
  console.log(`${b}/${c} version=${i.version} records=${i.records} status=${i.lastStatus}${i.fromDump ? ' from_dump=1' : ''}${i.lastError ? ' error=' + i.lastError : ''}`);
  if ((o.print && cmd !== 'watch') || cmd === 'show') console.log(i.version ? canonicalize(client.records(b, c)) : 'null');
  if (cmd === 'show' && i.version === 0) rc = 1;
}
if (cmd === 'sync' || cmd === 'watch') console.log(`stats requests=${client.stats.requests} bytes=${client.stats.bytesReceived} verify_failures=${client.stats.verifyFailures}`);
process.exitCode = rc;
}
// Exit once stdout is flushed (a pipe's pending output would be lost by an immediate
// exit), without waiting for fetch's idle keep-alive connections to time out.
process.stdout.write('', () => process.exit());
