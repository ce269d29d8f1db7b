'use strict';
// Deterministic generator of malformed and borderline HTTP/1.x requests for
// the differential check (run.js). generate() always returns the same list:
// the templates below are enumerated in a fixed order, and everything random
// (samples of large grids, mutations) comes from one PRNG with a fixed seed.
//
// Every case is { label, data } where data is a Buffer (bytes, latin1) and
// label says where it came from ("cl:value:+5", "mut(te:...):ins CR@17" ...).

const SEED = 0x5ea11d1f;
const TARGET_MUTANTS = 8000;

function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate() {
  const rnd = mulberry32(SEED);
  const ri = (n) => Math.floor(rnd() * n);
  const pick = (a) => a[ri(a.length)];
  const cases = [];
  const seen = new Set();
  // Cases that are valid-looking starting points for the mutator.
  const templates = [];
  const add = (label, str, template = false) => {
    const data = Buffer.from(str, 'latin1');
    const key = data.toString('latin1');
    if (seen.has(key)) return;
    seen.add(key);
    const c = { label, data };
    cases.push(c);
    if (template) templates.push(c);
  };
  const hex2 = (b) => b.toString(16).padStart(2, '0');
  const rep = (s, n) => s.repeat(n);

  const CRLF = '\r\n';
  const req = (line, headers, body = '') =>
    line + CRLF + headers.map((h) => h + CRLF).join('') + CRLF + body;
  const get11 = (headers = ['Host: h'], target = '/') => req(`GET ${target} HTTP/1.1`, headers);
  const post = (headers, body, v = '1.1') => req(`POST /p HTTP/${v}`, ['Host: h', ...headers], body);

  // ---------------------------------------------------------------- A. request line
  const methods = ['GET', 'POST', 'HEAD', 'OPTIONS', 'CONNECT', 'PUT', 'DELETE', 'TRACE', 'PATCH',
    'M-SEARCH', 'MSEARCH', 'QUERY', 'PURGE', 'MKCALENDAR', 'SOURCE', 'PROPFIND', 'UNLINK', 'LINK',
    'PRI', 'DESCRIBE', 'ANNOUNCE', 'RECORD', 'TEARDOWN', 'SET_PARAMETER', 'FOO', 'get', 'Get',
    'GETT', 'GE', 'G', 'POSTX', 'CONNEC', 'HTTP/1.1', 'G\x00T', 'G\tT', 'GET\x7f', '\xc7ET', '-'];
  const longPath = (n) => '/' + rep('a', n - 1);
  const targets = ['/', '/a/b?c=d&e', '/%41%zz', '/a#f', '*', 'http://example.com/p',
    'http://example.com', 'HTTP://EX.COM:8080/x?y', 'https://u:p@h:443/p?q#f', 'example.com:443',
    'h:80', '[::1]:80', 'http://[::1]:8080/', '//two', '/a b', '/a\tb', '/\x7f', '/\x80', '/\xff',
    '/\xc3\xa9', "/~!$&'()*+,;=:@", '/|{}^`"<>\\', '', '?', 'a', '/a?', '/a??', '%', 'ftp://x/y',
    '/a/../b', '/\x00', '/\x01', longPath(100), longPath(4096), longPath(8000), longPath(8200),
    longPath(12000), longPath(16500)];
  const versions = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/2', 'HTTP/1.2',
    'HTTP/1.9', 'HTTP/3.0', 'HTTP/9.9', 'http/1.1', 'Http/1.1', 'HTTP/1.10', 'HTTP/01.1',
    'HTTP/1.01', 'HTTP/1', 'HTTP/1.', 'HTTP/', 'HTTP', 'HTTPS/1.1', 'HTTP/1.1 ', 'HTTP/1.1\t',
    'HTTP /1.1', 'HTTP/ 1.1', 'HTTP/a.b', 'HTTP/1.x', '', 'ICE/1.0', 'RTSP/1.0', 'HTTP/1.1x',
    'HTTP\\1.1', 'HTTP/1,1', 'HTTP/11'];
  // Mutation templates: known methods with origin, absolute or asterisk targets.
  const goodMethods = new Set(methods.slice(0, 18).filter((m) => m !== 'MSEARCH' && m !== 'CONNECT'));
  const goodTargets = new Set(['/', '/a/b?c=d&e', '/a#f', 'http://example.com/p', 'HTTP://EX.COM:8080/x?y',
    'https://u:p@h:443/p?q#f', "/~!$&'()*+,;=:@", '/a/../b']);
  for (const m of methods)
    for (const t of targets.slice(0, 33))
      add(`line:m=${m}:t=${t.slice(0, 24)}`, req(`${m} ${t} HTTP/1.1`, ['Host: h']), goodMethods.has(m) && goodTargets.has(t));
  for (const t of targets)
    for (const v of versions)
      add(`line:t=${t.slice(0, 24)}:v=${v}`, req(`GET ${t} ${v}`, ['Host: h']));
  for (const m of methods)
    for (const v of versions)
      add(`line:m=${m}:v=${v}`, req(`${m} /x ${v}`, ['Host: h']));
  for (const t of ['h:80', 'example.com:443', '/', '*', 'http://h/', 'h', '[::1]:443', 'h:', ':80', 'h:80/x', 'h:http'])
    for (const v of ['HTTP/1.1', 'HTTP/1.0'])
      add(`line:connect:${t}:${v}`, req(`CONNECT ${t} ${v}`, ['Host: h']) + 'tunnel-bytes', true);
  for (const t of ['*', '/', 'http://h/']) add(`line:options:${t}`, req(`OPTIONS ${t} HTTP/1.1`, ['Host: h']), true);
  const seps = [' ', '  ', '\t', ' \t', '\t ', '\x0b', '\x0c', '\xa0'];
  for (const s1 of seps)
    for (const s2 of seps) add(`line:sep:${JSON.stringify(s1)}:${JSON.stringify(s2)}`, req(`GET${s1}/${s2}HTTP/1.1`, ['Host: h']));
  for (const pre of [' ', '\t', '\r\n', '\n', '\r\n\r\n', '\x00', 'x', '\r'])
    add(`line:prefix:${JSON.stringify(pre)}`, pre + get11());
  for (const suf of [' ', '  ', '\t', 'x', '\x00', '\x7f'])
    add(`line:suffix:${JSON.stringify(suf)}`, req(`GET / HTTP/1.1${suf}`, ['Host: h']));
  // HTTP/0.9 style and the HTTP/2 preface.
  add('line:http09', 'GET /\r\n');
  add('line:http09-2', 'GET /\r\n\r\n');
  add('line:no-target', 'GET HTTP/1.1\r\nHost: h\r\n\r\n');
  add('line:h2-preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  add('line:h2-preface-partial', 'PRI * HTTP/2.0\r\n\r\n');
  add('line:h2-pri-1.1', 'PRI * HTTP/1.1\r\nHost: h\r\n\r\n');

  // Line endings at each place.
  const eols = ['\r\n', '\n', '\r', '\r\r\n', '\n\r', ' \r\n', '\t\r\n', '\r \n', '\r\x00\n'];
  for (const e1 of eols)
    for (const e2 of eols)
      for (const e3 of eols)
        if (rnd() < 0.5 || (e1 === '\r\n' && e2 === '\r\n') || (e2 === '\r\n' && e3 === '\r\n') || (e1 === '\r\n' && e3 === '\r\n'))
          add(`eol:${JSON.stringify([e1, e2, e3])}`, `GET / HTTP/1.1${e1}Host: h${e2}X: y${e2}${e3}`);
  for (const e of eols) {
    add(`eol:body-after:${JSON.stringify(e)}`, `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n${e}abc`);
    add(`eol:pipelined:${JSON.stringify(e)}`, get11() + `GET /2 HTTP/1.1${e}Host: h${e}${e}`);
  }

  // ---------------------------------------------------------------- B. Host
  const hostCfgs = [[], ['Host: h'], ['Host: h:80'], ['Host:'], ['Host: '], ['host: h'], ['HOST: h'],
    ['Host: h', 'Host: h'], ['Host: a', 'Host: b'], ['Host: a', 'X: 1', 'host: a'], ['Host: u@h'],
    ['Host: h h'], ['Host: [::1]:8080'], ['Host: h\t'], ['Host:h'], ['Host: h', 'Host:'],
    ['Host: a,b'], ['Host: h\x80'], ['Host: h/p'], ['Hostx: h'], ['X-Host: h']];
  for (const v of ['1.1', '1.0'])
    for (const hc of hostCfgs)
      for (const t of ['/', 'http://example.com/'])
        add(`host:${v}:${t}:${JSON.stringify(hc)}`, req(`GET ${t} HTTP/${v}`, hc), true);
  for (const hc of hostCfgs)
    add(`host:pipelined:${JSON.stringify(hc)}`, get11() + req('GET /2 HTTP/1.1', hc) + get11(['Host: h'], '/3'));

  // ---------------------------------------------------------------- C. Content-Length
  const clValues = ['5', '05', '0005', '00000000000000000000005', '+5', '-5', ' 5', '5 ', '  5  ', '\t5',
    '5\t', '5,5', '5, 5', '5 ,5', '5,6', '5 5', '5,', ',5', '0x5', '5a', 'a', '', ' ', '5.0', '5e0',
    '1e3', '0', '00', '-0', '+0', '4294967296', '4294967301', '9223372036854775807',
    '9223372036854775808', '18446744073709551615', '18446744073709551616',
    '99999999999999999999999', '１', '5\x00', '5\x0b', '5;', '"5"', '5\x80'];
  for (const v of ['1.1', '1.0'])
    for (const m of ['POST', 'GET', 'HEAD'])
      for (const cl of clValues)
        for (const [bn, body] of [['exact', 'hello'], ['short', 'hel'], ['long', 'helloGET /x HTTP/1.1\r\nHost: h\r\n\r\n']]) {
          if (m !== 'POST' && bn === 'short') continue;
          add(`cl:${v}:${m}:${JSON.stringify(cl)}:${bn}`, req(`${m} /p HTTP/${v}`, ['Host: h', `Content-Length: ${cl}`], body), cl === '5' || cl === '0');
        }
  const clPair = ['5', '05', '5 ', '6', '0', '+5', '5,5', '', '5, 5'];
  for (const a of clPair)
    for (const b of clPair)
      add(`cl:dup:${JSON.stringify([a, b])}`, post([`Content-Length: ${a}`, `Content-Length: ${b}`], 'hello'));
  for (const name of ['content-length', 'CONTENT-LENGTH', 'Content-length', 'Content-Length ', 'Content-Length\t',
    ' Content-Length', 'Content_Length', 'Content-Lengthx', 'Content Length', 'Content-Length:'])
    add(`cl:name:${JSON.stringify(name)}`, post([`${name}: 5`], 'hello'));
  for (const n of [0, 1, 100, 1000, 70000])
    add(`cl:size:${n}`, post([`Content-Length: ${n}`], rep('x', n)), n < 2000);
  add('cl:get-with-body', req('GET / HTTP/1.1', ['Host: h', 'Content-Length: 2'], 'ab') + get11(), true);

  // ---------------------------------------------------------------- D. Transfer-Encoding
  const chunkedBody = '5\r\nhello\r\n0\r\n\r\n';
  const teValues = ['chunked', 'Chunked', 'CHUNKED', 'cHuNkEd', 'gzip, chunked', 'gzip,chunked',
    'gzip ,chunked', 'gzip,  chunked', 'chunked, gzip', 'chunked,gzip', 'identity', 'identity, chunked',
    'chunked, identity', 'gzip', 'deflate', 'compress', 'x-gzip, chunked', 'chunked;q=1', 'chunked ;q=1',
    ' chunked', 'chunked ', '\tchunked', 'chunked\t', 'chunkedx', 'xchunked', 'chunke', ',chunked',
    'chunked,', 'chunked,,', ', chunked', 'chunked, chunked', 'gzip, chunked, chunked', '', ' ',
    '"chunked"', 'chunked\x00', 'chunked\x80', 'chunk ed', 'gzip\tchunked', 'gzip;a=b, chunked',
    'gzip, identity', 'identity, gzip, chunked'];
  for (const v of ['1.1', '1.0'])
    for (const te of teValues)
      for (const [bn, body] of [['chunked', chunkedBody], ['raw', 'hello'], ['none', '']]) {
        if (bn === 'none' && v === '1.0') continue;
        add(`te:${v}:${JSON.stringify(te)}:${bn}`, post([`Transfer-Encoding: ${te}`], body, v), te === 'chunked' && bn === 'chunked');
      }
  const tePairs = ['chunked', 'gzip', 'identity', 'Chunked', ''];
  for (const a of tePairs)
    for (const b of tePairs)
      add(`te:dup:${JSON.stringify([a, b])}`, post([`Transfer-Encoding: ${a}`, `Transfer-Encoding: ${b}`], chunkedBody));
  for (const cl of ['5', '0', '16', 'x'])
    for (const te of ['chunked', 'gzip, chunked', 'identity'])
      for (const order of [0, 1]) {
        const hs = [`Content-Length: ${cl}`, `Transfer-Encoding: ${te}`];
        if (order) hs.reverse();
        add(`te:with-cl:${cl}:${te}:${order}`, post(hs, chunkedBody));
        add(`te:with-cl-1.0:${cl}:${te}:${order}`, post(hs, chunkedBody, '1.0'));
      }
  for (const name of ['transfer-encoding', 'TRANSFER-ENCODING', 'Transfer-Encoding ', 'Transfer_Encoding', 'Transfer-Encodings', 'TE'])
    add(`te:name:${JSON.stringify(name)}`, post([`${name}: chunked`], chunkedBody));
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'CONNECT', 'DELETE'])
    add(`te:method:${m}`, req(`${m} ${m === 'CONNECT' ? 'h:80' : '/'} HTTP/1.1`, ['Host: h', 'Transfer-Encoding: chunked'], chunkedBody), true);

  // ---------------------------------------------------------------- E. chunked body grammar
  const te = (body, extraHeaders = []) => post(['Transfer-Encoding: chunked', ...extraHeaders], body);
  const sizes = [['5', 5], ['05', 5], ['0005', 5], ['00000000000000000005', 5], ['a', 10], ['A', 10],
    ['0a', 10], ['0x5', 5], ['x5', 5], ['5 ', 5], [' 5', 5], ['5\t', 5], ['\t5', 5], ['-5', 5], ['+5', 5],
    ['5h', 5], ['g', 5], ['', 5], ['ffffffffffffffff', 5], ['10000000000000000', 5],
    ['fffffffffffffffff', 5], ['7fffffffffffffff', 5], ['ffffffff', 5], ['100000000', 5],
    ['00000000000000000000000000', 0], ['5\x00', 5], ['5\x0b', 5], ['５', 5], ['5 5', 5], ['5_', 5]];
  for (const [s, n] of sizes)
    add(`chunk:size:${JSON.stringify(s)}`, te(`${s}\r\n${rep('x', n)}\r\n0\r\n\r\n`), s === '5' || s === 'a');
  const exts = [';a', ';a=b', ';a="b c"', ';a=""', ';a="\\""', ';a="b', ' ;a', '\t;a', '; a', ';a =b', ';a= b',
    ';', ';=b', ';a=', ';a=b;c=d', ';a;b', ';a=b c', ';a\x00', ';a=\x00', ';a=\x7f', ';a=\x80', ';a="\x80"',
    ';a="\x00"', ';a=b,c', ';a@b', ';a=b=c', ';a="b"c', ';' + rep('e', 5000), ';a=\t', ';a="b\tc"',
    ';a="\\', ';a=\r', ';a"b"'];
  for (const e of exts) {
    add(`chunk:ext:${JSON.stringify(e.slice(0, 30))}`, te(`5${e}\r\nhello\r\n0\r\n\r\n`));
    add(`chunk:ext-last:${JSON.stringify(e.slice(0, 30))}`, te(`5\r\nhello\r\n0${e}\r\n\r\n`));
  }
  const sizeEols = ['\r\n', '\n', '\r', '\r\r\n', ' \r\n', '\r\n\r\n'];
  const dataEnds = ['\r\n', '\n', '\r', '', 'x\r\n', '\r\n\r\n', ' \r\n', '\r\x00'];
  const lasts = ['0', '00', '000000', '0 ', ' 0', '0x0', '0;a=b', '-0', '+0'];
  const trailers = [[], ['T: v'], ['T:v'], ['T: v', 'U: w'], ['bad name: v'], ['T : v'], ['T: v\x00'],
    ['T: a\x80'], ['Content-Length: 5'], ['Transfer-Encoding: chunked'], ['T: a', ' folded'], ['T'],
    [': v'], ['T: v\r'], ['Host: h'], ['T:'], ['T: ' + rep('v', 3000)]];
  const finals = ['\r\n', '\n', '', '\r', '\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n', '\r\n\r\n'];
  for (const se of sizeEols) add(`chunk:size-eol:${JSON.stringify(se)}`, te(`5${se}hello\r\n0\r\n\r\n`));
  for (const se of sizeEols) add(`chunk:last-eol:${JSON.stringify(se)}`, te(`5\r\nhello\r\n0${se}\r\n`));
  for (const de of dataEnds) add(`chunk:data-end:${JSON.stringify(de)}`, te(`5\r\nhello${de}0\r\n\r\n`));
  for (const l of lasts) add(`chunk:last:${JSON.stringify(l)}`, te(`5\r\nhello\r\n${l}\r\n\r\n`));
  for (const t of trailers)
    for (const f of ['\r\n', '\n', ''])
      add(`chunk:trailer:${JSON.stringify(t).slice(0, 40)}:${JSON.stringify(f)}`, te(`5\r\nhello\r\n0\r\n${t.map((x) => x + '\r\n').join('')}${f}`), t.length > 0 && f === '\r\n');
  for (const f of finals) add(`chunk:final:${JSON.stringify(f)}`, te(`5\r\nhello\r\n0\r\n${f}`), f.length > 4);
  // Random products of the chunk grammar pieces.
  for (let i = 0; i < 600; i++) {
    const [s, n] = pick(sizes);
    const parts = [`${s}${rnd() < 0.5 ? '' : pick(exts)}${pick(sizeEols)}${rep('x', n)}${pick(dataEnds)}`];
    if (rnd() < 0.4) parts.push(`3${rnd() < 0.7 ? '' : pick(exts)}${pick(sizeEols)}abc${pick(dataEnds)}`);
    const t = pick(trailers);
    parts.push(`${pick(lasts)}${rnd() < 0.8 ? '' : pick(exts)}${pick(sizeEols)}${t.map((x) => x + pick(['\r\n', '\r\n', '\n'])).join('')}${pick(finals)}`);
    add(`chunk:random:${i}`, te(parts.join('')));
  }
  // Many and large chunks, split framing.
  add('chunk:many', te(rep('1\r\nx\r\n', 300) + '0\r\n\r\n'), true);
  add('chunk:big', te('1000\r\n' + rep('y', 4096) + '\r\n0\r\n\r\n'));
  add('chunk:pipelined', te(chunkedBody.slice(0, -2) + '\r\n') + get11(), true);
  add('chunk:1.0', post(['Transfer-Encoding: chunked'], chunkedBody, '1.0'), true);

  // ---------------------------------------------------------------- F. byte sweeps
  for (let b = 0; b < 256; b++) {
    const c = String.fromCharCode(b);
    const h = hex2(b);
    add(`byte:name-mid:${h}`, get11(['Host: h', `X${c}Y: v`]));
    add(`byte:name-start:${h}`, get11(['Host: h', `${c}X: v`]));
    add(`byte:name-end:${h}`, get11(['Host: h', `X${c}: v`]));
    add(`byte:value-mid:${h}`, get11(['Host: h', `X: a${c}b`]));
    add(`byte:value-start:${h}`, get11(['Host: h', `X: ${c}b`]));
    add(`byte:value-end:${h}`, get11(['Host: h', `X: a${c}`]));
    add(`byte:value-only:${h}`, get11(['Host: h', `X:${c}`]));
    add(`byte:target:${h}`, get11(['Host: h'], `/a${c}b`));
    add(`byte:target-query:${h}`, get11(['Host: h'], `/a?q${c}`));
    add(`byte:target-abs:${h}`, get11(['Host: h'], `http://h${c}/`));
    add(`byte:method:${h}`, req(`G${c}T / HTTP/1.1`, ['Host: h']));
    add(`byte:version:${h}`, req(`GET / HTTP/1${c}1`, ['Host: h']));
    add(`byte:chunk-ext:${h}`, te(`5;a${c}=b\r\nhello\r\n0\r\n\r\n`));
    add(`byte:chunk-ext-q:${h}`, te(`5;a="${c}"\r\nhello\r\n0\r\n\r\n`));
    add(`byte:trailer-value:${h}`, te(`5\r\nhello\r\n0\r\nT: a${c}b\r\n\r\n`));
    add(`byte:trailer-name:${h}`, te(`5\r\nhello\r\n0\r\nT${c}: v\r\n\r\n`));
    add(`byte:cl-value:${h}`, post([`Content-Length: 5${c}`], 'hello'));
    add(`byte:host:${h}`, req('GET / HTTP/1.1', [`Host: h${c}`]));
  }

  // ---------------------------------------------------------------- G. header structure
  const structs = [
    ['space-before-colon', ['X : v']], ['tab-before-colon', ['X\t: v']], ['two-spaces-before-colon', ['X  : v']],
    ['fold-sp', ['X: a', ' b']], ['fold-tab', ['X: a', '\tb']], ['fold-empty', ['X: a', ' ']],
    ['fold-first', [' X: a']], ['fold-first-tab', ['\tX: a']], ['fold-twice', ['X: a', ' b', ' c']],
    ['fold-host', ['X: a', ' Host: evil']], ['empty-name', [': v']], ['empty-name-sp', [' : v']],
    ['no-colon', ['X']], ['no-colon-sp', ['X v']], ['colon-in-value', ['X: a:b']], ['double-colon', ['X:: v']],
    ['empty-value', ['X:']], ['empty-value-sp', ['X: ']], ['empty-value-tabs', ['X:\t\t']],
    ['value-spaces', ['X:   a   b   ']], ['value-tabs', ['X:\ta\tb\t']], ['value-quoted', ['X: "a\\"b"']],
    ['value-comma-list', ['X: a, b,c ,, d']], ['name-only-colon', [':']], ['name-dash', ['-: v']],
    ['name-tokens', ["!#$%&'*+-.^_`|~09AZaz: v"]], ['name-paren', ['X(): v']], ['name-slash', ['X/Y: v']],
    ['name-at', ['X@Y: v']], ['name-brackets', ['[X]: v']], ['name-equals', ['X=Y: v']], ['name-quote', ['"X": v']],
    ['name-comma', ['X,Y: v']], ['name-semicolon', ['X;Y: v']], ['value-bare-cr', ['X: a\rb']],
    ['value-bare-lf', ['X: a\nb']], ['value-crlf-cr', ['X: a\r\r']], ['name-bare-cr', ['X\rY: v']],
    ['name-bare-lf', ['X\nY: v']], ['line-bare-cr', ['X: a\rY: b']], ['dup-names', ['X: 1', 'X: 2', 'x: 3']],
    ['value-utf8', ['X: \xc3\xa9\xe2\x82\xac']], ['value-obs-text', ['X: \x80\xff']], ['value-del', ['X: a\x7f']],
    ['value-nul-end', ['X: a\x00']], ['value-vt', ['X: \x0b']], ['value-ff', ['X: a\x0cb']],
    ['header-crlf-only', ['']], ['many-empty-lines', ['X: a', '', 'Y: b']],
    ['long-name-100', [rep('N', 100) + ': v']], ['long-name-1000', [rep('N', 1000) + ': v']],
    ['long-name-8000', [rep('N', 8000) + ': v']], ['long-name-20000', [rep('N', 20000) + ': v']],
    ['long-value-8000', ['X: ' + rep('v', 8000)]], ['long-value-16000', ['X: ' + rep('v', 16000)]],
    ['long-value-17000', ['X: ' + rep('v', 17000)]], ['long-head-total', Array.from({ length: 40 }, (_, i) => `X${i}: ${rep('v', 400)}`)],
    ['just-under-16k', ['X: ' + rep('v', 16300)]],
    ['headers-32', Array.from({ length: 32 }, (_, i) => `H${i}: v${i}`)],
    ['headers-33', Array.from({ length: 33 }, (_, i) => `H${i}: v${i}`)],
    ['headers-100', Array.from({ length: 100 }, (_, i) => `H${i}: v${i}`)],
    ['headers-200', Array.from({ length: 200 }, (_, i) => `H-${i}: ${i}`)],
  ];
  for (const [n, hs] of structs) {
    add(`hdr:${n}`, get11(['Host: h', ...hs]), true);
    add(`hdr-last:${n}`, get11([...hs, 'Host: h']));
  }

  // ---------------------------------------------------------------- H. Connection / Upgrade / Expect
  const conns = [null, 'close', 'keep-alive', 'Keep-Alive', 'CLOSE', 'upgrade', 'Upgrade', 'close, upgrade',
    'keep-alive, upgrade', 'upgrade, keep-alive', 'keep-alive, close', 'close, keep-alive', 'foo', '',
    'close ,foo', ' close ', 'closed', 'x-close', 'te, close', 'keep-alive,,close', 'upgradex', 'up grade'];
  const upgrades = [null, 'websocket', 'h2c', '', 'WebSocket, h2c'];
  const second = get11(['Host: h'], '/second');
  for (const v of ['1.1', '1.0'])
    for (const c of conns)
      for (const u of upgrades)
        for (const [bn, extra, body] of [['none', [], ''], ['cl', ['Content-Length: 2'], 'ab'], ['te', ['Transfer-Encoding: chunked'], '2\r\nab\r\n0\r\n\r\n']]) {
          if (bn !== 'none' && !(u === null || u === 'websocket')) continue;
          const hs = ['Host: h'];
          if (c !== null) hs.push(`Connection: ${c}`);
          if (u !== null) hs.push(`Upgrade: ${u}`);
          const base = req(`${bn === 'none' ? 'GET' : 'POST'} / HTTP/${v}`, [...hs, ...extra], body);
          add(`conn:${v}:${c}:${u}:${bn}`, base + second, true);
          if (bn === 'none') add(`conn-alone:${v}:${c}:${u}`, base);
        }
  for (const c of ['close', 'keep-alive'])
    for (const dup of ['close', 'keep-alive', 'upgrade'])
      add(`conn:dup:${c}:${dup}`, get11(['Host: h', `Connection: ${c}`, `Connection: ${dup}`]) + second);
  const expects = ['100-continue', '100-Continue', '100-continue ', 'foo', '', '100-continue, foo', '200-ok'];
  for (const e of expects)
    for (const v of ['1.1', '1.0']) {
      add(`expect:${v}:${JSON.stringify(e)}`, post([`Expect: ${e}`, 'Content-Length: 5'], 'hello', v), true);
      add(`expect-get:${v}:${JSON.stringify(e)}`, req(`GET / HTTP/${v}`, ['Host: h', `Expect: ${e}`]));
    }
  for (const v of ['1.1', '1.0'])
    for (const c of [null, 'close', 'keep-alive'])
      for (const t of ['h:443', 'h:80'])
        add(`connect:${v}:${c}:${t}`, req(`CONNECT ${t} HTTP/${v}`, ['Host: h', ...(c ? [`Connection: ${c}`] : [])]) + 'raw tunnel \x00\xff data');

  // ---------------------------------------------------------------- I. pipelines
  const small = [
    get11(), get11(['Host: h', 'Connection: close']), req('GET / HTTP/1.0', []),
    req('GET / HTTP/1.0', ['Connection: keep-alive']), req('HEAD / HTTP/1.1', ['Host: h']),
    req('OPTIONS * HTTP/1.1', ['Host: h']), post(['Content-Length: 5'], 'hello'),
    post(['Content-Length: 0'], ''), post(['Transfer-Encoding: chunked'], chunkedBody),
    post(['Transfer-Encoding: chunked'], '0\r\nT: v\r\n\r\n'), req('DELETE /x HTTP/1.1', ['Host: h', 'Content-Length: 1'], 'z'),
    get11(['Host: h', 'Connection: upgrade', 'Upgrade: websocket']), req('CONNECT h:443 HTTP/1.1', ['Host: h']),
    post(['Content-Length: 5'], 'hel'), post(['Content-Length: 3'], 'hello'), get11(['Host: h', 'X: a', 'Y: b']),
    req('GET http://h/abs HTTP/1.1', ['Host: h']), 'GET / HTTP/1.1\r\nHost: h\r\n', '\r\n', 'GARBAGE\r\n\r\n',
  ];
  for (let i = 0; i < small.length; i++)
    for (let j = 0; j < small.length; j++) add(`pipe:${i}+${j}`, small[i] + small[j], true);
  for (let k = 0; k < 150; k++) {
    const n = 3 + ri(4);
    let s = '';
    const ids = [];
    for (let q = 0; q < n; q++) { const x = ri(small.length); ids.push(x); s += small[x]; }
    add(`pipe:${ids.join('+')}`, s);
  }
  add('pipe:60', rep(get11(), 60));

  // ---------------------------------------------------------------- J. truncations
  const truncSources = templates.slice();
  for (let k = 0; k < 400; k++) {
    const t = pick(truncSources);
    if (t.data.length < 2) continue;
    const cut = 1 + ri(t.data.length - 1);
    add(`trunc(${t.label})@${cut}`, t.data.subarray(0, cut).toString('latin1'));
  }

  // ---------------------------------------------------------------- K. mutations
  const insertBytes = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x7f, 0x80, 0xff, 0x3a, 0x2c, 0x3b, 0x22, 0x0b, 0x0c, 0x2d, 0x30, 0x41];
  const byteName = (b) => ({ 0x0d: 'CR', 0x0a: 'LF', 0x20: 'SP', 0x09: 'HT', 0x00: 'NUL' }[b] || '0x' + hex2(b));
  const small_templates = templates.filter((t) => t.data.length <= 2048);
  let produced = 0;
  let attempts = 0;
  while (produced < TARGET_MUTANTS && attempts < TARGET_MUTANTS * 4) {
    attempts++;
    const t = pick(small_templates);
    let d = Buffer.from(t.data);
    const ops = [];
    const nops = 1 + (rnd() < 0.35 ? 1 : 0) + (rnd() < 0.15 ? 1 : 0);
    for (let o = 0; o < nops; o++) {
      const kind = ri(100);
      // Bias positions towards the head, where the grammar is.
      const headEnd = Math.max(1, d.indexOf('\r\n\r\n') > 0 ? d.indexOf('\r\n\r\n') + 4 : d.length);
      const pos = rnd() < 0.8 ? ri(headEnd) : ri(d.length + 1);
      if (kind < 20 && d.length) { // bit flip
        const p = Math.min(pos, d.length - 1);
        const bit = ri(8);
        d[p] ^= 1 << bit;
        ops.push(`flip@${p}.${bit}`);
      } else if (kind < 55) { // insertion of a special byte
        const b = pick(insertBytes);
        d = Buffer.concat([d.subarray(0, pos), Buffer.from([b]), d.subarray(pos)]);
        ops.push(`ins ${byteName(b)}@${pos}`);
      } else if (kind < 70 && d.length) { // deletion of 1..3 bytes
        const p = Math.min(pos, d.length - 1);
        const n = 1 + ri(3);
        d = Buffer.concat([d.subarray(0, p), d.subarray(p + n)]);
        ops.push(`del${n}@${p}`);
      } else if (kind < 78 && d.length) { // replace a byte with a special byte
        const p = Math.min(pos, d.length - 1);
        const b = pick(insertBytes);
        d[p] = b;
        ops.push(`set ${byteName(b)}@${p}`);
      } else if (kind < 84) { // duplicate a line
        const s = d.toString('latin1');
        const lines = s.split('\r\n');
        if (lines.length > 2) {
          const li = 1 + ri(lines.length - 2);
          lines.splice(li, 0, lines[li]);
          d = Buffer.from(lines.join('\r\n'), 'latin1');
          ops.push(`dupline${li}`);
        }
      } else if (kind < 89) { // CRLF -> LF or CR at one place
        const s = d.toString('latin1');
        const idxs = [];
        for (let i = s.indexOf('\r\n'); i >= 0; i = s.indexOf('\r\n', i + 1)) idxs.push(i);
        if (idxs.length) {
          const i = pick(idxs);
          const drop = rnd() < 0.5 ? 0 : 1;
          d = Buffer.concat([d.subarray(0, i + drop), d.subarray(i + drop + 1)]);
          ops.push(`${drop ? 'bareCR' : 'bareLF'}@${i}`);
        }
      } else if (kind < 94) { // case change of a letter
        const p = Math.min(pos, d.length - 1);
        if (d.length && /[a-zA-Z]/.test(String.fromCharCode(d[p]))) { d[p] ^= 0x20; ops.push(`case@${p}`); }
      } else if (d.length > 1) { // truncation at the end
        const cut = 1 + ri(d.length - 1);
        d = d.subarray(0, cut);
        ops.push(`trunc@${cut}`);
      }
    }
    if (!ops.length) continue;
    const before = cases.length;
    add(`mut(${t.label}):${ops.join(',')}`, d.toString('latin1'));
    if (cases.length > before) produced++;
  }
  return cases;
}

// The case file read by diff.c: u32le count, then u32le length + bytes each.
function encodeCases(list) {
  let total = 4;
  for (const c of list) total += 4 + c.data.length;
  const out = Buffer.alloc(total);
  out.writeUInt32LE(list.length, 0);
  let off = 4;
  for (const c of list) {
    out.writeUInt32LE(c.data.length, off);
    off += 4;
    c.data.copy(out, off);
    off += c.data.length;
  }
  return out;
}

module.exports = { generate, encodeCases, SEED };

if (require.main === module) {
  const cs = generate();
  console.log(`${cs.length} cases`);
}
