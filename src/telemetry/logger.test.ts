import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, newReconcileId, reconcileLogger } from './logger.js';

function sink() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, destination };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('createLogger', () => {
  it('writes JSON with a level name, ISO time, base fields', async () => {
    const { lines, destination } = sink();
    const log = createLogger({ level: 'info', base: { component: 'manager' }, destination });
    log.info({ workers: 2 }, 'controller started');
    log.debug({}, 'not shown at info');
    await flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', component: 'manager', workers: 2, msg: 'controller started' });
    expect(String(lines[0]?.['time'])).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('redacts tokens and authorization headers', async () => {
    const { lines, destination } = sink();
    const log = createLogger({ destination });
    log.info({ token: 'secret', request: { headers: { authorization: 'Bearer secret' } } }, 'request');
    await flush();
    expect(JSON.stringify(lines[0])).not.toContain('secret');
  });

  it('serialises errors with their cause', async () => {
    const { lines, destination } = sink();
    const log = createLogger({ destination });
    log.error({ err: new Error('outer', { cause: new Error('inner') }) }, 'failed');
    await flush();
    expect(lines[0]?.['err']).toMatchObject({ message: expect.stringContaining('outer'), type: 'Error' });
    expect(JSON.stringify(lines[0]?.['err'])).toContain('inner');
  });
});

describe('reconcileLogger', () => {
  it('binds controller, namespace, name and reconcileId to every line', async () => {
    const { lines, destination } = sink();
    const log = reconcileLogger(createLogger({ destination }), { controller: 'segmentation', namespace: 'shop', name: 'default', reconcileId: 'abc' });
    log.info({ phase: 'Learning' }, 'status updated');
    await flush();
    expect(lines[0]).toMatchObject({ controller: 'segmentation', namespace: 'shop', name: 'default', reconcileId: 'abc', phase: 'Learning' });
  });

  it('omits the namespace for cluster-scoped objects', async () => {
    const { lines, destination } = sink();
    reconcileLogger(createLogger({ destination }), { controller: 'ns', name: 'shop', reconcileId: 'x' }).info({}, 'm');
    await flush();
    expect(lines[0]).not.toHaveProperty('namespace');
  });

  it('reconcile ids are unique UUIDs', () => {
    const ids = new Set(Array.from({ length: 100 }, newReconcileId));
    expect(ids.size).toBe(100);
    expect([...ids][0]).toMatch(/^[0-9a-f-]{36}$/);
  });
});
