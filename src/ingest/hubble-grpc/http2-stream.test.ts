/**
 * The gRPC-over-HTTP/2 reader: message framing (pure, every way of cutting the bytes into chunks),
 * target parsing, and the call against a `node:http2` server (nghttp2: its own HPACK encoder,
 * padding, CONTINUATION, flow control) scripted per test (status from trailers and Trailers-Only
 * headers, HTTP status, resets, cancel, keepalive), and against a raw socket speaking broken or
 * unusual HTTP/2 on purpose.
 */
import { once } from 'node:events';
import { createServer, constants, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream, type IncomingHttpHeaders, type ServerOptions } from 'node:http2';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FramingError, MessageReader, frameMessage } from './grpc-framing.js';
import { ErrorCode, Flag, FrameReader, FrameType, frame, goawayFrame, settingsFrame } from './h2-frames.js';
import { GrpcCode, grpcCodeName, openServerStream, type GrpcStatus, type ServerStreamOptions } from './http2-stream.js';
import { parseGrpcTarget } from './target.js';
import { issueCa, issueLeaf } from '../../operator/receiver-tls.js';

/** Feeds `chunks` to a reader and returns the messages as hex (copies: the views die with their chunk). */
function read(chunks: Buffer[], max?: number): { messages: string[]; idle: boolean } {
  const messages: string[] = [];
  const reader = new MessageReader((buf, start, end) => messages.push(buf.toString('hex', start, end)), max);
  for (const chunk of chunks) reader.push(chunk);
  return { messages, idle: reader.idle };
}

/** `bytes` cut at the given offsets. */
function cut(bytes: Buffer, at: readonly number[]): Buffer[] {
  const points = [...new Set(at)].filter((p) => p > 0 && p < bytes.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

describe('MessageReader (Length-Prefixed-Message framing)', () => {
  const a = Buffer.from('0a0b0c', 'hex');
  const b = Buffer.from('ff'.repeat(300), 'hex');
  const empty = Buffer.alloc(0);
  const stream = Buffer.concat([frameMessage(a), frameMessage(empty), frameMessage(b), frameMessage(a)]);
  const want = [a, empty, b, a].map((m) => m.toString('hex'));

  it('reads several messages packed in one chunk, as ranges of it (no copy)', () => {
    const ranges: [Buffer, number, number][] = [];
    new MessageReader((buf, start, end) => ranges.push([buf, start, end])).push(stream);
    expect(ranges.map(([buf, start, end]) => buf.toString('hex', start, end))).toEqual(want);
    expect(ranges.every(([buf]) => buf === stream)).toBe(true);
  });

  it('reads messages and prefixes split across chunks, one byte at a time included', () => {
    const bytes = [...stream].map((x) => Buffer.from([x]));
    expect(read(bytes)).toEqual({ messages: want, idle: true });
    expect(read(cut(stream, [2, 9, 10, 40, 320]))).toEqual({ messages: want, idle: true });
  });

  it('gives the same messages for every way of cutting the stream into chunks', () => {
    fc.assert(fc.property(fc.array(fc.nat(stream.length), { maxLength: 12 }), (at) => {
      expect(read(cut(stream, at))).toEqual({ messages: want, idle: true });
    }));
  });

  it('reads a zero-length message, also when it is the last bytes of the stream', () => {
    expect(read([frameMessage(empty)])).toEqual({ messages: [''], idle: true });
    expect(read(cut(frameMessage(empty), [3]))).toEqual({ messages: [''], idle: true });
  });

  it('is not idle inside a message or a prefix (a stream ending there is truncated)', () => {
    expect(read([stream.subarray(0, 3)]).idle).toBe(false);
    expect(read([stream.subarray(0, 7)]).idle).toBe(false);
  });

  it('rejects a length above the limit before buffering anything, a compressed message and an invalid flag', () => {
    const big = Buffer.from([0, 0, 0x40, 0, 1]); // 4 MiB + 1
    expect(() => read([big])).toThrow(FramingError);
    expect(() => read([big])).toThrow(/4194305 bytes, more than the limit of 4194304/);
    expect(() => read([frameMessage(b)], 299)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
    expect(() => read([frameMessage(b)], 300)).not.toThrow();
    expect(() => read([Buffer.from([1, 0, 0, 0, 1, 7])])).toThrow(expect.objectContaining({ code: 'INTERNAL', message: expect.stringMatching(/compressed/) }));
    expect(() => read([Buffer.from([2, 0, 0, 0, 0])])).toThrow(/invalid Compressed-Flag 2/);
  });

  it('frames a request: flag 0, big-endian length, the message', () => {
    expect(frameMessage(Buffer.from('0a01', 'hex')).toString('hex')).toBe('00000000020a01');
  });
});

describe('parseGrpcTarget', () => {
  it.each([
    ['unix:///var/run/cilium/hubble.sock', { kind: 'unix', path: '/var/run/cilium/hubble.sock', authority: 'localhost' }],
    ['unix:/tmp/h.sock', { kind: 'unix', path: '/tmp/h.sock', authority: 'localhost' }],
    ['unix:relative.sock', { kind: 'unix', path: 'relative.sock', authority: 'localhost' }],
    ['hubble-relay.kube-system.svc:443', { kind: 'tcp', host: 'hubble-relay.kube-system.svc', port: 443, authority: 'hubble-relay.kube-system.svc:443' }],
    ['dns:///hubble-relay.kube-system:80', { kind: 'tcp', host: 'hubble-relay.kube-system', port: 80, authority: 'hubble-relay.kube-system:80' }],
    ['dns://8.8.8.8/relay:4245', { kind: 'tcp', host: 'relay', port: 4245, authority: 'relay:4245' }],
    ['relay', { kind: 'tcp', host: 'relay', port: 443, authority: 'relay:443' }],
    ['127.0.0.1:4245', { kind: 'tcp', host: '127.0.0.1', port: 4245, authority: '127.0.0.1:4245' }],
    ['[::1]:4245', { kind: 'tcp', host: '::1', port: 4245, authority: '[::1]:4245' }],
    ['ipv4:10.0.0.1:80,10.0.0.2:80', { kind: 'tcp', host: '10.0.0.1', port: 80, authority: '10.0.0.1:80' }],
    ['ipv6:[fd00::1]:80', { kind: 'tcp', host: 'fd00::1', port: 80, authority: '[fd00::1]:80' }],
  ])('%s', (target, want) => {
    expect(parseGrpcTarget(target)).toEqual(want);
  });

  it.each(['', 'unix://relative', 'unix:', 'host:0', 'host:99999', 'host:http', '[::1', 'dns://resolver', 'a/b:80'])('rejects %j', (target) => {
    expect(() => parseGrpcTarget(target)).toThrow(/invalid gRPC target/);
  });
});

interface Served {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly stream: ServerHttp2Stream;
}

const servers: Http2Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** An h2c server on 127.0.0.1 answering each request with `respond` once the request body is complete. */
async function serve(
  respond: (stream: ServerHttp2Stream, served: Served) => void,
  onSession?: (session: ServerHttp2Session) => void,
  options: ServerOptions = {},
): Promise<{ address: string; calls: Served[] }> {
  const calls: Served[] = [];
  const server = createServer(options);
  servers.push(server);
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    onSession?.(session);
  });
  const close = server.close.bind(server);
  server.close = ((callback?: () => void) => {
    for (const session of sessions) session.destroy();
    return close(callback);
  }) as typeof server.close;
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined); // resets, expected in these tests
    const parts: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => {
      const served = { headers, body: Buffer.concat(parts), stream };
      calls.push(served);
      respond(stream, served);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const OK_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };

/** Responds with `chunks` written one by one, then trailers. */
function respondWith(chunks: Buffer[], trailers: Record<string, string> = { 'grpc-status': '0' }) {
  return (stream: ServerHttp2Stream) => {
    stream.respond(OK_HEADERS, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  };
}

interface Outcome {
  readonly messages: string[];
  readonly status: GrpcStatus;
  readonly events: string[];
}

function call(address: string, extra: Partial<ServerStreamOptions> = {}, onMessage?: (cancel: () => void) => void): Promise<Outcome> {
  const messages: string[] = [];
  const events: string[] = [];
  return new Promise((resolve) => {
    const stream = openServerStream(
      { target: parseGrpcTarget(address), path: '/test.Service/Stream', request: Buffer.from('0801', 'hex'), ...extra },
      {
        ready: () => events.push('ready'),
        headers: () => events.push('headers'),
        message: (buf, start, end) => {
          messages.push(buf.toString('hex', start, end));
          onMessage?.(() => stream.cancel());
        },
        end: (status) => resolve({ messages, status, events }),
      },
    );
  });
}

describe('openServerStream (gRPC over HTTP/2)', () => {
  it('sends the request as gRPC says and reads messages split across and packed within DATA frames', async () => {
    const m1 = Buffer.from('aa'.repeat(40), 'hex');
    const m2 = Buffer.from('bb', 'hex');
    const bytes = Buffer.concat([frameMessage(m1), frameMessage(Buffer.alloc(0)), frameMessage(m2), frameMessage(m2)]);
    const server = await serve(respondWith(cut(bytes, [3, 20, 46, 47, 52])));
    const outcome = await call(server.address);
    expect(outcome).toEqual({
      messages: [m1.toString('hex'), '', 'bb', 'bb'],
      status: { code: GrpcCode.OK, details: '' },
      events: ['ready', 'headers'],
    });
    const { headers, body } = server.calls[0]!;
    expect(headers).toMatchObject({ ':method': 'POST', ':path': '/test.Service/Stream', ':scheme': 'http', ':authority': server.address, 'content-type': 'application/grpc', te: 'trailers' });
    expect(headers['grpc-accept-encoding']).toBeUndefined();
    expect(body.toString('hex')).toBe('00000000020801');
  });

  it('reads one message per DATA frame, in order, without a process.nextTick round per frame', async () => {
    const count = 1_000;
    const messages = Array.from({ length: count }, (_, i) => Buffer.from(`m${i}`));
    const server = await serve((stream) => {
      stream.respond(OK_HEADERS, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      let i = 0;
      const next = () => {
        // One message per turn, so each is a DATA frame of its own, as grpc-go sends them.
        stream.write(frameMessage(messages[i++]!));
        if (i < count) setImmediate(next);
        else stream.end();
      };
      next();
    });
    const ticks = vi.spyOn(process, 'nextTick');
    try {
      const outcome = await call(server.address);
      expect(outcome.status.code).toBe(GrpcCode.OK);
      expect(outcome.messages).toEqual(messages.map((m) => m.toString('hex')));
      // Before http2-stream.ts took chunks at the stream's push, every DATA frame cost a tick here.
      expect(ticks.mock.calls.length).toBeLessThan(count / 10);
    } finally {
      ticks.mockRestore();
    }
  });

  it('ends with the status of the trailers, grpc-message percent-decoded', async () => {
    const server = await serve(respondWith([frameMessage(Buffer.from('01', 'hex'))], { 'grpc-status': '14', 'grpc-message': 'node%20gone%3A%20%E2%9C%93' }));
    const outcome = await call(server.address);
    expect(outcome.messages).toEqual(['01']);
    expect(outcome.status).toEqual({ code: GrpcCode.UNAVAILABLE, details: 'node gone: ✓' });
    expect(grpcCodeName(outcome.status.code)).toBe('UNAVAILABLE');
  });

  it('reads the status of a Trailers-Only response from its headers', async () => {
    const server = await serve((stream) => {
      stream.respond({ ...OK_HEADERS, 'grpc-status': '3', 'grpc-message': 'bad filter' }, { endStream: true });
    });
    const outcome = await call(server.address);
    expect(outcome).toEqual({ messages: [], status: { code: GrpcCode.INVALID_ARGUMENT, details: 'bad filter' }, events: ['ready'] });
  });

  it('maps an HTTP error without grpc-status, and rejects a non-gRPC content-type', async () => {
    const unavailable = await serve((stream) => stream.respond({ ':status': 503 }, { endStream: true }));
    expect((await call(unavailable.address)).status).toMatchObject({ code: GrpcCode.UNAVAILABLE, details: 'HTTP status 503 without grpc-status' });
    const notFound = await serve((stream) => stream.respond({ ':status': 404 }, { endStream: true }));
    expect((await call(notFound.address)).status.code).toBe(GrpcCode.UNIMPLEMENTED);
    const html = await serve((stream) => {
      stream.respond({ ':status': 200, 'content-type': 'text/html' });
      stream.end('<html>');
    });
    expect((await call(html.address)).status).toMatchObject({ code: GrpcCode.UNKNOWN, details: expect.stringMatching(/content-type "text\/html"/) });
  });

  it('ends RESOURCE_EXHAUSTED on an oversize message and INTERNAL on a compressed one, cancelling the stream', async () => {
    let reset: number | undefined;
    const server = await serve((stream) => {
      stream.on('close', () => (reset = stream.rstCode));
      stream.respond(OK_HEADERS);
      stream.write(Buffer.concat([frameMessage(Buffer.from('01', 'hex')), Buffer.from([0, 0, 0, 1, 0])]));
    });
    const oversize = await call(server.address, { maxMessageBytes: 100 });
    expect(oversize.messages).toEqual(['01']);
    expect(oversize.status).toMatchObject({ code: GrpcCode.RESOURCE_EXHAUSTED, details: 'received message of 256 bytes, more than the limit of 100' });
    expect(oversize.status.cause).toBeInstanceOf(FramingError);
    await expect.poll(() => reset).toBe(constants.NGHTTP2_CANCEL);

    const compressed = await serve((stream) => {
      stream.respond(OK_HEADERS);
      stream.write(Buffer.from([1, 0, 0, 0, 1, 7]));
    });
    expect((await call(compressed.address)).status).toMatchObject({ code: GrpcCode.INTERNAL, details: expect.stringMatching(/compressed/) });
  });

  it('ends INTERNAL when the stream ends inside a message, and maps a reset by the server', async () => {
    const truncated = await serve(respondWith([frameMessage(Buffer.from('0102', 'hex')).subarray(0, 6)]));
    expect((await call(truncated.address)).status).toEqual({ code: GrpcCode.INTERNAL, details: 'stream ended inside a message' });
    const refused = await serve((stream) => stream.close(constants.NGHTTP2_REFUSED_STREAM));
    expect((await call(refused.address)).status.code).toBe(GrpcCode.UNAVAILABLE);
    const internal = await serve((stream) => stream.close(constants.NGHTTP2_INTERNAL_ERROR));
    expect((await call(internal.address)).status).toEqual({ code: GrpcCode.INTERNAL, details: 'stream reset with HTTP/2 error code 2' });
  });

  it('ends UNAVAILABLE when the connection drops in the middle of the stream', async () => {
    const server = await serve((stream) => {
      stream.respond(OK_HEADERS);
      stream.write(frameMessage(Buffer.from('01', 'hex')), () => setTimeout(() => stream.session?.socket.destroy(), 20));
    });
    const outcome = await call(server.address);
    expect(outcome.messages).toEqual(['01']);
    expect(outcome.status.code).toBe(GrpcCode.UNAVAILABLE);
  });

  it('pause() returns no receive credit: the server stops at the 4 MiB window; resume() lets the rest through, every message once', async () => {
    const message = Buffer.alloc(64 * 1024 - 5, 7);
    const count = 160; // 10 MiB, well past the window
    const server = await serve((stream) => {
      stream.respond(OK_HEADERS, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      let sent = 0;
      const next = () => {
        // Written as the send window allows (nghttp2 holds DATA the window does not cover).
        while (sent < count && stream.write(frameMessage(message))) sent++;
        if (sent < count) stream.once('drain', () => { sent++; next(); });
        else stream.end();
      };
      next();
    });
    let received = 0;
    let ended: GrpcStatus | undefined;
    const call = openServerStream(
      { target: parseGrpcTarget(server.address), path: '/test.Service/Stream', request: Buffer.from('0801', 'hex') },
      { message: (_buf, start, end) => (received += end - start + 5), end: (status) => (ended = status) },
    );
    call.pause();
    await vi.waitFor(() => expect(received).toBeGreaterThan(0), { timeout: 5000, interval: 10 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const whilePaused = received;
    expect(whilePaused).toBeLessThanOrEqual(4 * 1024 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toBe(whilePaused);
    expect(ended).toBeUndefined();
    call.resume();
    await vi.waitFor(() => expect(ended).toBeDefined(), { timeout: 5000, interval: 10 });
    expect(ended).toEqual({ code: GrpcCode.OK, details: '' });
    expect(received).toBe(count * 64 * 1024);
  });

  it('cancel() resets the stream with CANCEL and ends CANCELLED; no message is delivered after it', async () => {
    let reset: number | undefined;
    const server = await serve((stream) => {
      stream.on('close', () => (reset = stream.rstCode));
      stream.respond(OK_HEADERS);
      stream.write(Buffer.concat([frameMessage(Buffer.from('01', 'hex')), frameMessage(Buffer.from('02', 'hex'))]));
    });
    const outcome = await call(server.address, {}, (cancel) => cancel());
    expect(outcome.messages).toEqual(['01']);
    expect(outcome.status).toEqual({ code: GrpcCode.CANCELLED, details: 'Cancelled on client' });
    await expect.poll(() => reset).toBe(constants.NGHTTP2_CANCEL);
  });

  it('ends INTERNAL, cancelling the stream, when the message handler throws', async () => {
    const server = await serve(respondWith([frameMessage(Buffer.from('01', 'hex')), frameMessage(Buffer.from('02', 'hex'))]));
    const status = await new Promise<GrpcStatus>((resolve) => {
      openServerStream(
        { target: parseGrpcTarget(server.address), path: '/test.Service/Stream', request: Buffer.alloc(0) },
        {
          message: () => {
            throw new Error('sink broke');
          },
          end: resolve,
        },
      );
    });
    expect(status).toMatchObject({ code: GrpcCode.INTERNAL, details: 'message handler failed: sink broke', cause: expect.any(Error) });
  });

  it('ends UNAVAILABLE with the socket error when nobody listens', async () => {
    const server = await serve(() => undefined);
    const address = server.address;
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const outcome = await call(address);
    expect(outcome.status).toMatchObject({ code: GrpcCode.UNAVAILABLE, details: expect.stringMatching(/ECONNREFUSED/) });
    expect(outcome.status.cause).toBeInstanceOf(Error);
    expect(outcome.events).toEqual([]);
  });

  it('sends keepalive pings at the configured interval while the call is open', async () => {
    let pings = 0;
    const server = await serve(
      (stream) => {
        stream.respond(OK_HEADERS, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        setTimeout(() => stream.end(), 300);
      },
      (session) => session.on('ping', () => pings++),
    );
    const outcome = await call(server.address, { keepaliveTimeMs: 40, keepaliveTimeoutMs: 1000 });
    expect(outcome.status.code).toBe(GrpcCode.OK);
    expect(pings).toBeGreaterThanOrEqual(3);
  });

  it('decodes header blocks as nghttp2 encodes them (its table and Huffman choices), for any octets', async () => {
    // Values of visible ASCII and high octets (no '%': grpc-message would be percent-decoded).
    const octet = fc.oneof(fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x25), fc.integer({ min: 0x80, max: 0xff }));
    const value = fc.string({ unit: octet.map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 200 });
    await fc.assert(fc.asyncProperty(value, fc.array(value, { maxLength: 6 }), async (message, extras) => {
      const server = await serve((stream) => {
        // The same field in the headers and the trailers: nghttp2 indexes it, then refers to the table.
        const headers: Record<string, string | number> = { ...OK_HEADERS, 'grpc-message': message };
        extras.forEach((extra, i) => (headers[`x-extra-${i}`] = extra));
        stream.respond(headers, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '9', 'grpc-message': message }));
        stream.end();
      });
      expect((await call(server.address)).status).toEqual({ code: GrpcCode.FAILED_PRECONDITION, details: message });
      await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    }), { numRuns: 40 });
  });

  it('reads padded DATA and HEADERS frames', async () => {
    const messages = [Buffer.from('a1'.repeat(300), 'hex'), Buffer.from('b2', 'hex')];
    const server = await serve(respondWith(messages.map((m) => frameMessage(m))), undefined, { paddingStrategy: constants.PADDING_STRATEGY_MAX });
    const outcome = await call(server.address);
    expect(outcome.messages).toEqual(messages.map((m) => m.toString('hex')));
    expect(outcome.status).toEqual({ code: GrpcCode.OK, details: '' });
  });

  it('reads a header block continued in CONTINUATION frames', async () => {
    const long = 'x'.repeat(40_000); // beyond one 16 KiB frame
    const server = await serve(respondWith([frameMessage(Buffer.from('01', 'hex'))], { 'grpc-status': '5', 'grpc-message': long }));
    expect((await call(server.address)).status).toEqual({ code: GrpcCode.NOT_FOUND, details: long });
  });

  it('returns receive credit: 12 MiB, three times the connection window, arrives whole and in order', async () => {
    const messages = Array.from({ length: 1_200 }, (_, i) => Buffer.alloc(10_240, i & 0xff));
    const server = await serve(respondWith(messages.map((m) => frameMessage(m))));
    const seen: number[] = [];
    const status = await new Promise<GrpcStatus>((resolve) => {
      openServerStream(
        { target: parseGrpcTarget(server.address), path: '/test.Service/Stream', request: Buffer.alloc(0) },
        { message: (buf, start, end) => seen.push(end - start === 10_240 && buf[start] === buf[end - 1] ? buf[start]! : -1), end: resolve },
      );
    });
    expect(status.code).toBe(GrpcCode.OK);
    expect(seen).toEqual(messages.map((_, i) => i & 0xff));
  });

  it('sends a request larger than the initial windows and a frame, within the server\'s windows', async () => {
    const request = Buffer.alloc(200_000);
    for (let i = 0; i < request.length; i++) request[i] = (i * 7) & 0xff;
    const server = await serve(respondWith([]));
    expect((await call(server.address, { request })).status.code).toBe(GrpcCode.OK);
    expect(server.calls[0]!.body.equals(frameMessage(request))).toBe(true);
  });

  it('answers the server\'s PING', async () => {
    let answered: boolean | undefined;
    const server = await serve(
      (stream) => {
        stream.respond(OK_HEADERS, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.session!.ping((error) => {
          answered = error === null;
          stream.end();
        });
      },
    );
    expect((await call(server.address)).status.code).toBe(GrpcCode.OK);
    expect(answered).toBe(true);
  });

  it('over TLS, ends UNAVAILABLE when the server does not agree to h2 in ALPN (here: it offers no ALPN at all)', async () => {
    const now = new Date();
    const ca = await issueCa({ now, validityMs: 3_600_000 });
    const leaf = await issueLeaf({ ca, dnsNames: ['localhost'], now, validityMs: 3_600_000 });
    const server = createTlsServer({ cert: leaf.cert, key: leaf.key }, (socket) => socket.on('error', () => undefined));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const outcome = await call(`127.0.0.1:${(server.address() as AddressInfo).port}`, { tls: { ca: Buffer.from(ca.cert), serverName: 'localhost' } });
      expect(outcome.status).toMatchObject({ code: GrpcCode.UNAVAILABLE, details: 'the server did not agree to HTTP/2 in the TLS handshake (ALPN none)' });
      expect(outcome.events).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  describe('against a server speaking raw HTTP/2', () => {
    /** A TCP server that writes `script(received)` whenever the client sent more, and keeps what the client sent. */
    async function raw(script: (sent: Buffer) => Buffer | undefined): Promise<{ address: string; sent: () => Buffer; close: () => Promise<void> }> {
      const sockets: Socket[] = [];
      let sent = Buffer.alloc(0);
      const server = createTcpServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => {
          sent = Buffer.concat([sent, chunk]);
          const reply = script(sent);
          if (reply !== undefined && !socket.destroyed) socket.write(reply);
        });
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return {
        address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
        sent: () => sent,
        close: async () => {
          for (const socket of sockets) socket.destroy();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    }

    /** The frames the client sent after its 24-octet preface. */
    function framesSent(bytes: Buffer): { type: number; flags: number; stream: number; payload: Buffer }[] {
      const frames: { type: number; flags: number; stream: number; payload: Buffer }[] = [];
      const reader = new FrameReader((type, flags, stream, buf, start, end) => frames.push({ type, flags, stream, payload: Buffer.from(buf.subarray(start, end)) }));
      reader.push(bytes, 24);
      return frames;
    }

    const SETTINGS = settingsFrame([]);
    let replied = false;
    const once_ = (reply: Buffer) => () => {
      if (replied) return undefined;
      replied = true;
      return reply;
    };
    afterEach(() => {
      replied = false;
    });

    it('ends UNAVAILABLE when the server says GOAWAY before taking the stream', async () => {
      const server = await raw(once_(Buffer.concat([SETTINGS, goawayFrame(0, ErrorCode.NO_ERROR)])));
      try {
        const outcome = await call(server.address);
        expect(outcome.status).toEqual({ code: GrpcCode.UNAVAILABLE, details: 'the server went away (GOAWAY NO_ERROR)' });
      } finally {
        await server.close();
      }
    });

    it('ends INTERNAL on a protocol violation and tells the server with GOAWAY PROTOCOL_ERROR', async () => {
      const server = await raw(once_(Buffer.concat([SETTINGS, frame(FrameType.DATA, 0, 1, frameMessage(Buffer.from('01', 'hex')))])));
      try {
        const outcome = await call(server.address);
        expect(outcome.messages).toEqual([]);
        expect(outcome.status).toMatchObject({ code: GrpcCode.INTERNAL, details: 'HTTP/2 protocol error by the server: DATA before the response headers' });
        await expect.poll(() => framesSent(server.sent()).find((f) => f.type === FrameType.GOAWAY)?.payload.readUInt32BE(4)).toBe(ErrorCode.PROTOCOL_ERROR);
      } finally {
        await server.close();
      }
    });

    it('ends UNAVAILABLE when the server does not start with SETTINGS (an HTTP/1 port), INTERNAL when its header block is broken', async () => {
      replied = false;
      const http1 = await raw(once_(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', 'latin1')));
      try {
        expect((await call(http1.address)).status).toMatchObject({ code: GrpcCode.UNAVAILABLE, details: expect.stringMatching(/^not an HTTP\/2 server: frame of \d+ bytes/) });
      } finally {
        await http1.close();
      }
      replied = false;
      const noSettings = await raw(once_(frame(FrameType.PING, 0, 0, Buffer.alloc(8))));
      try {
        expect((await call(noSettings.address)).status).toMatchObject({ code: GrpcCode.UNAVAILABLE, details: 'not an HTTP/2 server: the server did not start with SETTINGS' });
      } finally {
        await noSettings.close();
      }
      replied = false;
      const broken = await raw(once_(Buffer.concat([SETTINGS, frame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0x80]))])));
      try {
        expect((await call(broken.address)).status).toMatchObject({ code: GrpcCode.INTERNAL, details: 'HTTP/2 protocol error by the server: header field index 0' });
        await expect.poll(() => framesSent(broken.sent()).find((f) => f.type === FrameType.GOAWAY)?.payload.readUInt32BE(4)).toBe(ErrorCode.COMPRESSION_ERROR);
      } finally {
        await broken.close();
      }
    });

    it('ends INTERNAL with GOAWAY ENHANCE_YOUR_CALM on a flood of empty CONTINUATION frames', async () => {
      const flood = Array.from({ length: 40 }, () => frame(FrameType.CONTINUATION, 0, 1));
      const server = await raw(once_(Buffer.concat([SETTINGS, frame(FrameType.HEADERS, 0, 1, Buffer.from([0x88])), ...flood])));
      try {
        expect((await call(server.address)).status).toMatchObject({ code: GrpcCode.INTERNAL, details: 'HTTP/2 protocol error by the server: more than 16 CONTINUATION frames in one header block' });
        await expect.poll(() => framesSent(server.sent()).find((f) => f.type === FrameType.GOAWAY)?.payload.readUInt32BE(4)).toBe(ErrorCode.ENHANCE_YOUR_CALM);
      } finally {
        await server.close();
      }
    });

    it('sends its preface, settings, the request headers and the request, and acknowledges the server\'s SETTINGS', async () => {
      const server = await raw(once_(SETTINGS));
      try {
        const pending = call(server.address, { keepaliveTimeMs: 0 });
        await expect.poll(() => framesSent(server.sent()).some((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK)).toBe(true);
        expect(server.sent().subarray(0, 24).toString('latin1')).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        const frames = framesSent(server.sent());
        expect(frames.map((f) => [f.type, f.flags, f.stream])).toEqual([
          [FrameType.SETTINGS, 0, 0],
          [FrameType.WINDOW_UPDATE, 0, 0],
          [FrameType.HEADERS, Flag.END_HEADERS, 1],
          [FrameType.DATA, Flag.END_STREAM, 1],
          [FrameType.SETTINGS, Flag.ACK, 0],
        ]);
        expect(frames[3]!.payload.toString('hex')).toBe('00000000020801');
        await server.close();
        expect((await pending).status.code).toBe(GrpcCode.UNAVAILABLE);
      } finally {
        await server.close();
      }
    });
  });

  it('ends UNAVAILABLE when a keepalive ping is not answered in time', async () => {
    // Speaks just enough HTTP/2 to be ready (an empty SETTINGS frame), then nothing: no PING ACK.
    const sockets: Socket[] = [];
    const mute = createTcpServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.write(Buffer.from('000000040000000000', 'hex'));
    });
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    try {
      const outcome = await call(`127.0.0.1:${(mute.address() as AddressInfo).port}`, { keepaliveTimeMs: 20, keepaliveTimeoutMs: 50 });
      expect(outcome.events).toEqual(['ready']);
      expect(outcome.status).toEqual({ code: GrpcCode.UNAVAILABLE, details: 'keepalive ping not answered within 50 ms' });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => mute.close(() => resolve()));
    }
  });
});
