import { describe, expect, it } from 'vitest';
import { parseHash, withQuery } from '../../../web/src/app/route-path.js';

describe('console hash routes', () => {
  it('defaults to the packets page', () => {
    expect(parseHash('')).toMatchObject({ path: '/packets', segments: ['packets'] });
    expect(parseHash('#/')).toMatchObject({ path: '/packets', segments: ['packets'] });
  });

  it('splits path segments and the query', () => {
    const route = parseHash('#/packets/01a2014f0c2d5313?model=gpt-4&workload=general');
    expect(route.path).toBe('/packets/01a2014f0c2d5313');
    expect(route.segments).toEqual(['packets', '01a2014f0c2d5313']);
    expect(route.query.get('model')).toBe('gpt-4');
    expect(route.query.get('workload')).toBe('general');
  });

  it('decodes segments and keeps a bad escape as it is', () => {
    expect(parseHash('#/agents/edge%2D1').segments).toEqual(['agents', 'edge-1']);
    expect(parseHash('#/agents/%E0%A4%A').segments).toEqual(['agents', '%E0%A4%A']);
    expect(parseHash('#//flows//').segments).toEqual(['flows']);
  });

  it('builds an address with only the parameters that are set', () => {
    expect(withQuery('/packets', { model: 'gpt-4', workload: undefined, range: '' })).toBe(
      '/packets?model=gpt-4',
    );
    expect(withQuery('/packets', {})).toBe('/packets');
  });
});
