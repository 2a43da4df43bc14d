import { describe, expect, it } from 'vitest';
import { edgesMissingFrom, edgesMissingFromNewest } from './proposal.js';

const web = 'wl:shop/Deployment/web';
const api = 'wl:shop/Deployment/api';
const db = 'wl:shop/StatefulSet/db';
const evidence = (...edges: [string, string, number][]) => [{ edges: edges.map(([client, server, port]) => ({ client, server, port, protocol: 'TCP' })) }];
const learned = (...edges: [string, string, number][]) => edges.map(([client, server, port]) => ({ client, server, port, protocol: 'TCP' as const }));

describe('edgesMissingFrom', () => {
  it.each([
    { name: 'nothing lost', previous: evidence([web, api, 8080]), now: learned([web, api, 8080], [api, db, 5432]), missing: [] },
    { name: 'an edge lost', previous: evidence([web, api, 8080], [api, db, 5432]), now: learned([web, api, 8080]), missing: ['shop/Deployment/api -> shop/StatefulSet/db 5432/TCP'] },
    { name: 'another port is another edge', previous: evidence([web, api, 8080]), now: learned([web, api, 8081]), missing: ['shop/Deployment/web -> shop/Deployment/api 8080/TCP'] },
    { name: 'an edge named by two rules is listed once', previous: [...evidence([web, api, 8080]), ...evidence([web, api, 8080])], now: learned(), missing: ['shop/Deployment/web -> shop/Deployment/api 8080/TCP'] },
  ])('$name', ({ previous, now, missing }) => {
    expect(edgesMissingFrom(previous, now)).toEqual(missing);
  });

  it('compares with the newest revision only', () => {
    const revisions = [{ revision: 1, evidence: evidence([api, db, 5432]) }, { revision: 2, evidence: evidence([web, api, 8080]) }];
    expect(edgesMissingFromNewest(revisions, learned([web, api, 8080]))).toEqual([]);
    expect(edgesMissingFromNewest([], learned())).toEqual([]);
  });
});
