'use strict';
// Differential check of squall's HTTP request parser against node's own
// parser (llhttp, through process.binding('http_parser'), strict mode).
//
//   node --no-deprecation run.js --driver PATH/diff_driver --out DIR [--docs FILE]
//
// Generates the cases (gen.js, fixed seed), parses each with node's parser
// in-process and with squall's parser (the C driver diff.c, one process for
// all cases), compares the two records of every case, writes
// DIR/differential-report.md (every difference, input escaped, grouped by
// class) and DIR/differential-lenient.txt (the minimised inputs on which
// squall is more lenient than node, if any), prints "N passed, N failed" and
// exits 1 when anything failed.
//
// The driver also parses every input fed one byte at a time and reports when
// that changes anything (a failure: the parser promises split-independence).
//
// Outcome classes of one case (compared message by message):
//   agree      both complete the same messages (method, target, version,
//              headers, body, trailers, keep-alive, upgrade) and end the same
//              way: between messages, inside a message, upgraded, or rejected
//   normalised both accept, and the one difference is a documented
//              normalisation (NORMALISATIONS below): passes
//   stricter   node accepts or waits for more input, squall rejects; also
//              squall closing a connection node keeps alive, and squall
//              failing an EOF that llhttp's finish() lets pass: allowed
//   late       node rejects a prefix that squall still reads as incomplete:
//              every COMPLETIONS suffix is tried; if squall accepts one that
//              node rejects, it is "lenient", else "stricter"
//   lenient    node rejects, squall accepts: FAILURE
//   mismatch   both accept but disagree on a field or a message boundary:
//              FAILURE
// The Host rule (node's server, not its parser, answers 400 to an HTTP/1.1
// request without Host; squall's parser does it with SQ_HTTP_OPT_REQUIRE_HOST)
// is compared separately: the main comparison runs squall with that option
// off, and the driver reruns every case with the default options.

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { generate, encodeCases, SEED } = require('./gen.js');

const t0 = Date.now();

// ------------------------------------------------------------------ arguments
const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith('--')) args[a.slice(2)] = process.argv[++i];
}
if (!args.driver || !args.out) {
  console.error('usage: node --no-deprecation run.js --driver PATH --out DIR [--docs FILE]');
  process.exit(2);
}
fs.mkdirSync(args.out, { recursive: true });

// ------------------------------------------------------------------ node side
let binding;
try {
  binding = process.binding('http_parser');
} catch (e) {
  console.error(`cannot load node's HTTP parser binding: ${e.message}`);
  process.exit(2);
}
const { HTTPParser } = binding;
// The method number llhttp reports indexes allMethods (node's own
// _http_common does the same); binding.methods is a filtered list.
const methods = binding.allMethods || binding.methods;
const { kOnMessageBegin, kOnHeaders, kOnHeadersComplete, kOnBody, kOnMessageComplete, kOnExecute } = HTTPParser;
// node's server: maxHeaderSize 0 = the default (--max-http-header-size, 16 KiB),
// kLenientNone (insecureHTTPParser off).
const LENIENT_NONE = HTTPParser.kLenientNone !== undefined ? HTTPParser.kLenientNone : 0;

function pairs(dst, flat) {
  if (!flat) return;
  for (let i = 0; i + 1 < flat.length; i += 2) dst.push([flat[i], flat[i + 1]]);
}

function nodeParse(buf) {
  const p = new HTTPParser();
  const msgs = [];
  let cur = null;
  let inHead = false;
  let last = 'none';
  p[kOnMessageBegin] = () => {
    last = 'begin';
    cur = { method: null, url: '', v: null, h: [], b: [], t: [], ka: null, up: null };
    inHead = true;
  };
  p[kOnHeaders] = (h, url) => {
    if (inHead) {
      pairs(cur.h, h);
      if (url) cur.url += url;
    } else {
      pairs(cur.t, h); // trailers arrive after the head
    }
  };
  p[kOnHeadersComplete] = (maj, min, h, m, url, sc, sm, up, ka) => {
    pairs(cur.h, h);
    if (url) cur.url += url;
    cur.v = [maj, min];
    cur.method = methods[m];
    cur.up = !!up;
    cur.ka = !!ka;
    inHead = false;
    return 0; // llhttp's own behaviour: read the body, then stop for the upgrade
  };
  p[kOnBody] = (b) => { cur.b.push(Buffer.from(b)); };
  p[kOnMessageComplete] = () => {
    last = 'complete';
    msgs.push({
      method: cur.method, url: cur.url, v: cur.v, h: cur.h, b: Buffer.concat(cur.b).toString('hex'),
      t: cur.t, ka: cur.ka, up: cur.up,
    });
  };
  p[kOnExecute] = () => {};
  p.initialize(HTTPParser.REQUEST, {}, 0, LENIENT_NONE);
  const r = p.execute(buf);
  let s;
  let e = '';
  let reason = '';
  if (r instanceof Error) {
    s = 'error';
    e = r.code;
    reason = r.reason || '';
  } else if (last === 'complete' && msgs[msgs.length - 1].up) {
    // llhttp pauses right after an upgrade (or CONNECT) message completes.
    s = 'upgrade';
  } else if (r < buf.length) {
    // node's binding drops llhttp's error once the head asked for an
    // upgrade (node_http_parser.cc: `!parser_.upgrade && err != HPE_OK`):
    // llhttp stopped on an invalid byte in the body of an upgrade request.
    s = 'error';
    e = 'HPE_UPGRADE_BODY_ERROR';
    reason = `llhttp stopped at byte ${r} in the body of an upgrade request; node's binding hides the error`;
  } else {
    const f = p.finish();
    if (f instanceof Error) {
      if (f.code === 'HPE_INVALID_EOF_STATE') s = 'incomplete';
      else { s = 'error'; e = f.code; reason = f.reason || ''; }
    } else {
      s = 'end';
    }
  }
  p.free();
  return { m: msgs, s, e, reason };
}

// ------------------------------------------------------------------ squall side
function squallParse(list, tag) {
  const casesFile = path.join(args.out, `differential-${tag}.bin`);
  const outFile = path.join(args.out, `differential-${tag}.jsonl`);
  fs.writeFileSync(casesFile, encodeCases(list));
  const r = spawnSync(args.driver, [casesFile, outFile], { stdio: ['ignore', 'inherit', 'pipe'], maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    console.error(`squall driver failed: ${r.error ? r.error.message : `exit ${r.status} signal ${r.signal}`}`);
    if (r.stderr) process.stderr.write(r.stderr);
    process.exit(2);
  }
  const lines = fs.readFileSync(outFile, 'latin1').split('\n').filter((l) => l.length);
  if (lines.length !== list.length) {
    console.error(`squall driver wrote ${lines.length} records for ${list.length} cases`);
    process.exit(2);
  }
  // The driver writes only ASCII (JSON \u00XX escapes for the rest).
  return lines.map((l) => JSON.parse(l));
}

// ------------------------------------------------------------------ comparison
// Documented normalisations that make a both-accept difference acceptable.
// Each: { name, test(nodeMsg, squallMsg, field) -> bool, stop }; with stop,
// node hands the rest of the stream to someone else (an upgrade) and the
// comparison ends at that message. (Both parsers already agree without help
// on value trimming of SP/HTAB, the name's case, duplicate fields in order
// and the raw target.)
const NORMALISATIONS = [
  {
    // http_parser.h: "RFC 9110 section 7.8 ignores Upgrade in HTTP/1.0".
    name: 'Upgrade ignored in an HTTP/1.0 request (RFC 9110 section 7.8, documented in http_parser.h)',
    test: (n, q, d) => d === 'upgrade' && n.up && !q.up && n.v[0] === 1 && n.v[1] === 0 && q.v[1] === 0
      && n.method !== 'CONNECT' && n.h.some(([k]) => /^upgrade$/i.test(k)),
    stop: true,
  },
];

function sameHeaders(a, b) {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1]) return false;
  return true;
}

function diffMsg(n, q) {
  if (n.method !== q.method || n.method !== q.mid) return 'method';
  if (n.url !== q.url) return 'url';
  if (n.v[0] !== q.v[0] || n.v[1] !== q.v[1]) return 'version';
  if (!sameHeaders(n.h, q.h)) return 'headers';
  if (n.b !== q.b) return 'body';
  if (!sameHeaders(n.t, q.t)) return 'trailers';
  if (n.up !== q.up) return 'upgrade';
  if (n.ka !== q.ka) return 'keep-alive';
  return null;
}

function compare(N, S, data) {
  const r = compare1(N, S, data);
  if (r.kaOff === undefined || (r.cat !== 'agree' && r.cat !== 'stricter')) return r;
  // squall closes the connection after a message node would keep alive
  // (RFC 9112 section 6.1: HTTP/1.0 with Transfer-Encoding): stricter.
  return { cat: 'stricter', cls: `keep-alive off where node keeps alive${r.cat === 'stricter' ? `, then ${r.cls}` : ''}`, at: r.kaOff };
}
// A documented version difference: the llhttp 9.4.2 test vectors that
// squall's conformance suite follows accept HTAB around a Content-Length
// value; the llhttp 9.3.1 inside node 20 refuses a trailing one.
const CL_HTAB = 'HTAB around a Content-Length value (llhttp 9.4.2, whose vectors the conformance suite follows, accepts it; node 20 bundles llhttp 9.3.1, which refuses a trailing one)';
function clHtab(N, data) {
  return data && N.e === 'HPE_INVALID_CONTENT_LENGTH' && /content-length:[^\r\n]*\t/i.test(data.toString('latin1'));
}
function compare1(N, S, data) {
  let k = 0;
  let kaOff;
  while (k < N.m.length && k < S.m.length) {
    const d = diffMsg(N.m[k], S.m[k]);
    if (d === 'keep-alive' && N.m[k].ka && !S.m[k].ka) {
      if (kaOff === undefined) kaOff = k;
    } else if (d) {
      const norm = NORMALISATIONS.find((x) => x.test(N.m[k], S.m[k], d));
      if (!norm) return { cat: 'mismatch', cls: `${d} differs`, at: k };
      if (norm.stop) return { cat: 'normalised', cls: norm.name, at: k };
    }
    k++;
  }
  if (N.m.length > k) {
    if (S.s === 'error') return { cat: 'stricter', cls: S.e, at: k, kaOff };
    return { cat: 'mismatch', cls: `boundary: node completed message ${k}, squall ${S.s}`, at: k };
  }
  if (S.m.length > k) {
    if (N.s === 'error' && clHtab(N, data)) return { cat: 'normalised', cls: CL_HTAB, at: k };
    if (N.s === 'error') return { cat: 'lenient', cls: `node ${N.e} "${N.reason}", squall accepted the message`, at: k };
    return { cat: 'mismatch', cls: `boundary: squall completed message ${k}, node ${N.s}`, at: k };
  }
  if (N.s === S.s) {
    if (N.s === 'error') return { cat: 'agree', cls: 'both reject', kaOff };
    if (N.s === 'incomplete') return { cat: 'agree', cls: 'both incomplete', kaOff };
    return { cat: 'agree', cls: 'both accept', kaOff };
  }
  if (S.s === 'error') return { cat: 'stricter', cls: S.e, at: k, kaOff };
  // llhttp's finish() lets some cut messages end cleanly (an upgrade request
  // cut inside its body); squall's sq_http_parse_eof() reports them.
  if (N.s === 'end' && S.s === 'incomplete')
    return { cat: 'stricter', cls: 'EOF inside a message: node\'s finish() accepts it, sq_http_parse_eof() fails', at: k, kaOff };
  // node rejects a prefix that squall still reads as incomplete: resolved by
  // probing completions of the input (see COMPLETIONS).
  if (N.s === 'error' && S.s === 'incomplete') return { cat: 'late', cls: `node ${N.e}, squall waits for more input`, at: k };
  if (N.s === 'error') return { cat: 'lenient', cls: `node ${N.e} "${N.reason}", squall ${S.s}`, at: k };
  return { cat: 'mismatch', cls: `end state: node ${N.s}, squall ${S.s}`, at: k };
}

// The Host rule. node's server answers 400 to the first HTTP/1.1 request
// whose headers have no Host (an empty Host is accepted; duplicates are
// accepted, the first wins). squall with its default options rejects an
// HTTP/1.1 request without exactly one Host.
function hostCompare(N, S) {
  let nodeIdx = -1;
  for (let i = 0; i < N.m.length; i++) {
    const m = N.m[i];
    if (m.v[0] === 1 && m.v[1] === 1 && !m.h.some(([n]) => n.toLowerCase() === 'host')) { nodeIdx = i; break; }
  }
  const hostErr = S.hs === 'error' && /^HOST_/.test(S.he);
  // Apart from the Host rule, the default run must behave as the main run.
  if (!hostErr && (S.hs !== S.s || S.he !== S.e || S.hn !== S.m.length))
    return { cat: 'mismatch', cls: `default options differ beyond the Host rule: ${S.hs} ${S.he} after ${S.hn}` };
  if (hostErr && S.hn > S.m.length)
    return { cat: 'mismatch', cls: `Host rule fired after message ${S.hn} beyond the main run's ${S.m.length}` };
  const squallIdx = hostErr ? S.hn : -1;
  if (nodeIdx < 0 && squallIdx < 0) return null;
  // A message that node's parser itself does not complete is not the Host
  // rule's business.
  if (nodeIdx < 0 && squallIdx >= N.m.length) return null;
  if (nodeIdx === squallIdx) return { cat: 'agree', cls: `both reject (${S.he})` };
  if (nodeIdx < 0 || (squallIdx >= 0 && squallIdx < nodeIdx)) return { cat: 'stricter', cls: `Host rule: ${S.he}` };
  return { cat: 'lenient', cls: `Host rule: node's server rejects message ${nodeIdx} (HTTP/1.1 without Host), squall ${squallIdx < 0 ? 'accepts' : `rejects only message ${squallIdx}`}` };
}

// Short explanations of the stricter classes seen so far (by class prefix).
const WHY = [
  ['BODY_TOO_LARGE', 'Content-Length over max_body (100 MiB) refused at the head (413); node waits for the body'],
  ['VERSION_UNSUPPORTED', 'HTTP/0.x, 2.x or above in a request line (505); llhttp takes any digit.digit'],
  ['HTTP09', 'request line without a version (HTTP/0.9), which llhttp takes as version 0.9'],
  ['VERSION', 'a protocol other than HTTP (llhttp also takes RTSP/ and ICE/ request lines)'],
  ['METHOD', 'RTSP methods, which llhttp takes with an RTSP version'],
  ['TRANSFER_ENCODING', 'an empty Transfer-Encoding value, which llhttp ignores'],
  ['TARGET_TOO_LONG', 'request line over max_line (8 KiB, 414); node allows 16 KiB for the whole head'],
  ['LF_EXPECTED', 'bare CR or LF before a request line, which llhttp skips'],
  ['TARGET', 'more than one SP between request-line parts, or an empty CONNECT target'],
  ['CHUNK_SIZE', 'chunk size of 2^63 or more (llhttp takes up to 2^64-1)'],
  ['CHUNK_EXTENSION', 'chunk extension with an empty name or an empty value'],
  ['HTTP2_PREFACE', 'the start of the HTTP/2 preface, on which llhttp still waits'],
  ['keep-alive off', 'HTTP/1.0 with Transfer-Encoding (RFC 9112 section 6.1) or with "Connection: keep-alive, close": squall closes after the message, so what follows is CLOSED'],
  ['late rejection', 'node rejects at the first bad byte; squall waits for the end of the line or head and rejects then; no tried completion of the input is accepted'],
  ['EOF inside a message', 'input ends inside the body of an upgrade request: llhttp\'s finish() lets it end, sq_http_parse_eof() fails'],
  ['Host rule: HOST_INVALID', 'Host value with characters outside URI host and port (node\'s server does not look)'],
  ['Host rule: HOST_REPEATED', 'two Host fields (node\'s server keeps the first)'],
  ['Host rule: HOST_MISSING', 'HTTP/1.1 without Host where node\'s parser had already failed on an earlier message'],
];
function why(cls) {
  const w = WHY.find(([p]) => cls.startsWith(p) && (p !== 'VERSION' || cls === 'VERSION') && (p !== 'TARGET' || cls === 'TARGET'));
  return w ? w[1] : '';
}

// ------------------------------------------------------------------ escaping
function esc(buf, max = 600) {
  let out = '';
  let i = 0;
  const lit = (b) => {
    if (b === 0x0d) return '\\r';
    if (b === 0x0a) return '\\n';
    if (b === 0x09) return '\\t';
    if (b === 0x5c) return '\\\\';
    if (b === 0x22) return '\\"';
    if (b === 0x60) return '\\x60';
    if (b >= 0x20 && b < 0x7f) return String.fromCharCode(b);
    return '\\x' + b.toString(16).padStart(2, '0');
  };
  while (i < buf.length) {
    let j = i;
    while (j < buf.length && buf[j] === buf[i]) j++;
    if (j - i >= 12) { out += `"⟨${j - i}×${lit(buf[i])}⟩"`; i = j; continue; }
    out += lit(buf[i]);
    i++;
    if (out.length > max) { out += `…(${buf.length - i} more bytes)`; break; }
  }
  return `"${out}"`.replace(/""⟨/g, '⟨').replace(/⟩""/g, '⟩');
}
function outcomeStr(R) {
  return `${R.m.length} msg, ${R.s}${R.e ? ' ' + R.e : ''}`;
}

// ------------------------------------------------------------------ minimisation
// Greedy delta debugging in batches: every round tries, for every failing
// case at once, the deletion of each chunk (largest chunks first) and keeps
// the first one that fails the same way.
function minimise(items) {
  const active = items.map((it) => ({ ...it, cur: it.data }));
  for (let round = 0; round < 400; round++) {
    const cands = [];
    for (const a of active) {
      if (a.done) continue;
      a.cands = [];
      const len = a.cur.length;
      for (let size = Math.max(1, len >> 1); ; size = Math.max(1, size >> 1)) {
        for (let p = 0; p + size <= len; p += size) {
          const d = Buffer.concat([a.cur.subarray(0, p), a.cur.subarray(p + size)]);
          a.cands.push(cands.length);
          cands.push({ label: 'min', data: d });
        }
        if (size === 1) break;
      }
      if (!a.cands.length) a.done = true;
    }
    if (!cands.length) break;
    const sq = squallParse(cands, 'min');
    for (const a of active) {
      if (a.done) continue;
      let found = false;
      for (const ci of a.cands) {
        const N = nodeParse(cands[ci].data);
        let r = a.host ? hostCompare(N, sq[ci]) : compare(N, sq[ci], cands[ci].data);
        if (!a.host && sq[ci].split && r.cat !== 'lenient' && r.cat !== 'mismatch')
          r = { cat: 'mismatch', cls: 'squall alone: byte-at-a-time feeding differs from whole feeding' };
        if (r && r.cat === a.cat && r.cls === a.cls.replace(/ \(once completed\)$/, '')) {
          a.cur = cands[ci].data;
          found = true;
          break;
        }
      }
      if (!found) a.done = true;
    }
    if (active.every((a) => a.done)) break;
  }
  return active;
}

// ------------------------------------------------------------------ main
const cases = generate();
const squall = squallParse(cases, 'cases');
const results = [];
for (let i = 0; i < cases.length; i++) {
  const N = nodeParse(cases[i].data);
  const S = squall[i];
  let r = compare(N, S, cases[i].data);
  // Self-check: the driver also feeds every input one byte at a time; the
  // parser promises the same result for any split.
  if (S.split && r.cat !== 'lenient' && r.cat !== 'mismatch')
    r = { cat: 'mismatch', cls: 'squall alone: byte-at-a-time feeding differs from whole feeding', at: 0 };
  results.push({ i, c: cases[i], N, S, r, h: hostCompare(N, S) });
}

// node rejects at once a prefix that squall still reads as incomplete. That
// is no acceptance by itself, but squall might accept the input once it is
// complete: append every completion below, and if squall accepts one that
// node rejects (or they disagree), that completed input is the failure.
// Otherwise the case counts as stricter ("late rejection").
const COMPLETIONS = ['\r\n', '\r\n\r\n', ' HTTP/1.1\r\n\r\n', ' HTTP/1.1\r\nHost: h\r\n\r\n',
  '/ HTTP/1.1\r\nHost: h\r\n\r\n', 'T / HTTP/1.1\r\nHost: h\r\n\r\n', ': v\r\n\r\n', 'x: v\r\n\r\n',
  '\r\nHost: h\r\n\r\n', '0\r\n\r\n', '\r\n0\r\n\r\n', '\r\nhello', ' / HTTP/1.1\r\nHost: h\r\n\r\n'];
const late = results.filter((r) => r.r.cat === 'late');
if (late.length) {
  const probes = [];
  for (const rec of late)
    for (const sfx of COMPLETIONS) probes.push({ rec, label: 'probe', data: Buffer.concat([rec.c.data, Buffer.from(sfx, 'latin1')]) });
  const sq = squallParse(probes, 'probe');
  for (let j = 0; j < probes.length; j++) {
    const { rec, data } = probes[j];
    if (rec.probed) continue;
    const N = nodeParse(data);
    const r = compare(N, sq[j], data);
    if (r.cat === 'lenient' || r.cat === 'mismatch') {
      rec.probed = true;
      rec.r = { ...r, cls: `${r.cls} (once completed)` };
      rec.input = data;
      rec.N = N;
      rec.S = sq[j];
    }
  }
  for (const rec of late)
    if (!rec.probed) rec.r = { cat: 'stricter', cls: `late rejection: node ${rec.N.e} at once, squall waits for the rest of the line or head`, at: rec.r.at };
}

const counts = { agree: 0, normalised: 0, stricter: 0, lenient: 0, mismatch: 0 };
const agreeCls = {};
const groups = { normalised: new Map(), stricter: new Map(), lenient: new Map(), mismatch: new Map() };
const host = { agree: 0, stricter: new Map(), lenient: new Map(), mismatch: new Map(), rejectBoth: {} };
for (const rec of results) {
  const r = rec.r;
  if (!rec.input) rec.input = rec.c.data;
  counts[r.cat]++;
  if (r.cat === 'agree') agreeCls[r.cls] = (agreeCls[r.cls] || 0) + 1;
  else {
    if (!groups[r.cat].has(r.cls)) groups[r.cat].set(r.cls, []);
    groups[r.cat].get(r.cls).push(rec);
  }
  const h = rec.h;
  if (h) {
    if (h.cat === 'agree') { host.agree++; host.rejectBoth[h.cls] = (host.rejectBoth[h.cls] || 0) + 1; }
    else {
      if (!host[h.cat].has(h.cls)) host[h.cat].set(h.cls, []);
      host[h.cat].get(h.cls).push(rec);
    }
  }
}
const hostFail = [...host.lenient.values(), ...host.mismatch.values()].reduce((a, l) => a + l.length, 0);
const hostStricter = [...host.stricter.values()].reduce((a, l) => a + l.length, 0);

// Minimise the failures (a few per class).
const toMin = [];
for (const cat of ['lenient', 'mismatch'])
  for (const [cls, list] of groups[cat])
    for (const rec of list.slice(0, 3)) toMin.push({ rec, data: rec.input, cat, cls, host: false });
for (const cat of ['lenient', 'mismatch'])
  for (const [cls, list] of host[cat])
    for (const rec of list.slice(0, 3)) toMin.push({ rec, data: rec.input, cat, cls, host: true });
const minimisedAll = toMin.length ? minimise(toMin.slice(0, 60)) : [];
const minimised = [];
const minSeen = new Set();
for (const m of minimisedAll) {
  m.rec.min = m.cur;
  m.rec.minN = nodeParse(m.cur);
  const key = m.cur.toString('latin1');
  if (!minSeen.has(key)) { minSeen.add(key); minimised.push(m); }
}

// Failures of the Host comparison are counted on cases that otherwise passed.
const passedNet = results.filter((r) => !(r.r.cat === 'lenient' || r.r.cat === 'mismatch' ||
  (r.h && (r.h.cat === 'lenient' || r.h.cat === 'mismatch')))).length;
const failedNet = cases.length - passedNet;
const seconds = ((Date.now() - t0) / 1000).toFixed(1);

// ------------------------------------------------------------------ report
const L = [];
const nodeInfo = `node ${process.version}, llhttp ${process.versions.llhttp}`;
const sortedGroups = (m) => [...m.entries()].sort((a, b) => b[1].length - a[1].length);
const summary = [];
summary.push(`Generated requests: **${cases.length}** (seed 0x${SEED.toString(16)}), peer: ${nodeInfo} `
  + '(`process.binding(\'http_parser\')`, strict: kLenientNone, default 16 KiB header limit); '
  + 'squall: `sq_http_parse_head`/`sq_http_parse_body`/`sq_http_parse_eof`, input fed whole, '
  + '`SQ_HTTP_OPT_REQUIRE_HOST` off, `max_head` 16384 (node\'s limit).');
summary.push('');
summary.push('| outcome | cases |');
summary.push('|---|---:|');
for (const [k, v] of Object.entries(agreeCls).sort()) summary.push(`| agree: ${k} | ${v} |`);
for (const [cls, list] of sortedGroups(groups.normalised)) summary.push(`| agree after a documented normalisation: ${cls} | ${list.length} |`);
summary.push(`| squall stricter (allowed) | ${counts.stricter} |`);
summary.push(`| **squall more lenient (failure)** | ${counts.lenient} |`);
summary.push(`| **both accept, disagree (failure)** | ${counts.mismatch} |`);
summary.push(`| Host rule: both reject | ${host.agree} |`);
summary.push(`| Host rule: squall stricter | ${hostStricter} |`);
summary.push(`| **Host rule: squall more lenient or inconsistent (failure)** | ${hostFail} |`);
const cov = { body: 0, chunked: 0, trailers: 0, pipelined: 0, upgrade: 0, obsText: 0 };
for (const r of results) {
  if (r.r.cat !== 'agree' || !r.N.m.length) continue;
  if (r.N.m.some((m) => m.b.length)) cov.body++;
  if (r.N.m.some((m) => m.h.some(([n, v]) => /^transfer-encoding$/i.test(n) && /chunked/i.test(v)))) cov.chunked++;
  if (r.N.m.some((m) => m.t.length)) cov.trailers++;
  if (r.N.m.length > 1) cov.pipelined++;
  if (r.N.s === 'upgrade') cov.upgrade++;
  if (r.N.m.some((m) => m.h.some(([, v]) => /[\x80-\xff]/.test(v)))) cov.obsText++;
}
summary.push('');
summary.push(`Agreeing cases with at least one message compared field by field: with a body ${cov.body}, chunked ${cov.chunked}, `
  + `with trailers ${cov.trailers}, pipelined (2+ messages) ${cov.pipelined}, ending in an upgrade/CONNECT ${cov.upgrade}, `
  + `with obs-text in a value ${cov.obsText}.`);
summary.push('');
summary.push(`**${passedNet} passed, ${failedNet} failed** (passed = agreed, agreed after a documented normalisation, or squall stricter). Runtime ${seconds} s.`);
summary.push('');
summary.push('### Classes of "squall stricter" (allowed)');
summary.push('');
summary.push('| class (squall\'s error) | cases | node\'s end state | what it is |');
summary.push('|---|---:|---|---|');
for (const [cls, list] of sortedGroups(groups.stricter)) {
  const ns = {};
  for (const r of list) ns[r.N.s] = (ns[r.N.s] || 0) + 1;
  summary.push(`| ${cls} | ${list.length} | ${Object.entries(ns).map(([k, v]) => `${k} ${v}`).join(', ')} | ${why(cls)} |`);
}
for (const [cls, list] of sortedGroups(host.stricter)) summary.push(`| ${cls} | ${list.length} | accepted by node's server | ${why(cls)} |`);
if (counts.lenient || counts.mismatch || hostFail) {
  summary.push('');
  summary.push('### Failures (minimal inputs)');
  summary.push('');
  for (const m of minimised) {
    summary.push(`- ${m.cat}: ${m.cls}`);
    summary.push(`  - input: \`${esc(m.rec.min)}\``);
    summary.push(`  - expected (node): ${outcomeStr(m.rec.minN)}${m.rec.minN.reason ? ` (${m.rec.minN.reason})` : ''}`);
  }
}

L.push('# Differential check: squall\'s HTTP request parser against node\'s (llhttp)');
L.push('');
L.push(`Written by tests/peers/differential/run.js (CTest: peers.http_differential) on ${new Date().toISOString()}.`);
L.push('');
L.push('## Summary');
L.push('');
L.push(...summary);
L.push('');
L.push('Inputs are written as C-like strings; `⟨N×c⟩` stands for N repetitions of byte c. '
  + 'Outcomes read "messages completed, end state [error]"; end states: end (input ended between messages), '
  + 'incomplete (input ended inside a message), upgrade (stopped after an upgrade/CONNECT message), error.');
const listGroup = (title, m, withMin) => {
  L.push('');
  L.push(`## ${title}`);
  if (!m.size) { L.push(''); L.push('None.'); return; }
  for (const [cls, list] of sortedGroups(m)) {
    L.push('');
    L.push(`### ${cls} (${list.length})`);
    L.push('');
    L.push('```');
    for (const r of list) {
      L.push(`#${r.i} [${r.c.label.slice(0, 120)}] node: ${outcomeStr(r.N)}${r.N.reason ? ` (${r.N.reason})` : ''}; squall: ${outcomeStr(r.S)}${r.h && r.h.cat !== 'agree' ? `; default options: ${r.S.hs} ${r.S.he} after ${r.S.hn}` : ''}`);
      L.push(`    ${esc(r.input)}`);
      if (withMin && r.min) L.push(`    minimal: ${esc(r.min)} -> node: ${outcomeStr(r.minN)}`);
      if (r.S.split) L.push(`    squall fed byte by byte: ${JSON.stringify(r.S.split)}`);
      if (r.r.cat === 'mismatch' && r.r.at !== undefined) {
        L.push(`    node   message ${r.r.at}: ${JSON.stringify(r.N.m[r.r.at] || null)}`);
        L.push(`    squall message ${r.r.at}: ${JSON.stringify(r.S.m[r.r.at] || null)}`);
      }
    }
    L.push('```');
  }
};
listGroup('FAILURES: squall more lenient than node', groups.lenient, true);
listGroup('FAILURES: both accept but disagree', groups.mismatch, true);
listGroup('FAILURES: Host rule (squall default options vs node\'s server)', new Map([...host.lenient, ...host.mismatch]), true);
listGroup('Agree after a documented normalisation', groups.normalised, false);
listGroup('Squall stricter (allowed), by squall\'s error', groups.stricter, false);
listGroup('Host rule: squall stricter (allowed)', host.stricter, false);
L.push('');
fs.writeFileSync(path.join(args.out, 'differential-report.md'), L.join('\n'));

const lenientTxt = [];
for (const m of minimised) {
  lenientTxt.push(`# ${m.cat}: ${m.cls}`);
  lenientTxt.push(`# expected (node): ${outcomeStr(m.rec.minN)}${m.rec.minN.reason ? ` (${m.rec.minN.reason})` : ''}`);
  lenientTxt.push(esc(m.rec.min, 100000));
  lenientTxt.push('');
}
const lenPath = path.join(args.out, 'differential-lenient.txt');
if (lenientTxt.length) fs.writeFileSync(lenPath, lenientTxt.join('\n'));
else if (fs.existsSync(lenPath)) fs.unlinkSync(lenPath);

if (args.docs) {
  const D = ['# Differential check of the HTTP request parser', '',
    'The CTest `peers.http_differential` (tests/peers/differential/) parses thousands of generated malformed and borderline '
    + 'requests with squall\'s parser and with node\'s own parser (llhttp) and compares the results: squall may be '
    + 'stricter than node, never more lenient, and where both accept they must agree on every field. '
    + 'The full report, with every difference and its input, is written to `differential-report.md` in the build directory. '
    + 'This is the summary of the latest run.', '', ...summary, ''];
  fs.writeFileSync(args.docs, D.join('\n'));
}

for (const m of minimised) console.log(`FAIL ${m.cat}: ${m.cls}\n    ${esc(m.rec.min)}`);
console.log(`cases ${cases.length}: agree ${counts.agree}, normalised ${counts.normalised}, squall stricter ${counts.stricter}, more lenient ${counts.lenient}, mismatched ${counts.mismatch}; Host rule: agree ${host.agree}, stricter ${hostStricter}, failed ${hostFail}`);
console.log(`report: ${path.join(args.out, 'differential-report.md')} (${seconds} s)`);
console.log(`${passedNet} passed, ${failedNet} failed`);
process.exit(failedNet ? 1 : 0);
