import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphClient, type GraphApiError } from '../../../src/facebook';
import { jsonText } from '../../support/json-text';

/**
 * The client's wire format against a scripted HTTP server: what it sends, and how it reads answers that the
 * emulator does not produce (HTML from a proxy, an error envelope with status 200, string-typed numbers).
 */

interface Recorded {
  method: string;
  url: URL;
  contentType: string | undefined;
  body: string;
}

type Scripted = { status: number; body: string; headers?: Record<string, string> };

const TOKEN = 'EAAclienttesttoken0000000000000';
let server: Server;
let baseUrl: string;
let recorded: Recorded[] = [];
let answers: Scripted[] = [];

beforeAll(async () => {
  server = createServer(async (request: IncomingMessage, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    recorded.push({ method: request.method ?? '', url: new URL(request.url ?? '/', 'http://x'), contentType: request.headers['content-type'], body });
    const answer = answers.shift() ?? { status: 200, body: '{"success":true}' };
    response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    response.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  recorded = [];
  answers = [];
});

const client = () => new GraphClient({ baseUrl, apiVersion: 'v27.0', accessToken: TOKEN });

async function failure(promise: Promise<unknown>): Promise<GraphApiError> {
  return promise.then(
    () => Promise.reject(new Error('expected a failure')),
    (error: GraphApiError) => error,
  );
}

describe('GraphClient requests', () => {
  it('sends the token in the query string for GET', async () => {
    answers.push({ status: 200, body: '{"id":"5","name":"n"}' });
    await client().getCustomAudience('5', ['id', 'name']);
    const [request] = recorded;
    expect(request?.method).toBe('GET');
    expect(request?.url.pathname).toBe('/v27.0/5');
    expect(request?.url.searchParams.get('fields')).toBe('id,name');
    expect(request?.url.searchParams.get('access_token')).toBe(TOKEN);
  });

  it('creates a CUSTOM audience with form fields and the token in the body', async () => {
    answers.push({ status: 200, body: '{"id":"238500"}' });
    expect(await client().createCustomAudience('42', { name: 'n', description: 'd', customerFileSource: 'USER_PROVIDED_ONLY' })).toEqual({ id: '238500' });
    const [request] = recorded;
    expect(request?.url.pathname).toBe('/v27.0/act_42/customaudiences');
    expect(request?.url.search).toBe('');
    expect(request?.contentType).toContain('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(request?.body))).toEqual({
      name: 'n',
      description: 'd',
      subtype: 'CUSTOM',
      customer_file_source: 'USER_PROVIDED_ONLY',
      access_token: TOKEN,
    });
  });

  it('removes users with a real DELETE and the payload in a JSON body, never in the URL', async () => {
    answers.push({ status: 200, body: '{"audience_id":"5","session_id":"77","num_received":"1","num_invalid_entries":"0","invalid_entry_samples":[]}' });
    const answer = await client().removeUsers('5', { schema: ['EXTERN_ID'], rowCount: 1, rowsJson: jsonText('["m1"]') });
    expect(answer).toEqual({ audienceId: '5', sessionId: '77', numReceived: 1, numInvalidEntries: 0, invalidEntrySamples: {} });
    const [request] = recorded;
    expect(request?.method).toBe('DELETE');
    expect(request?.url.search).toBe('');
    expect(request?.contentType).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({ payload: { schema: ['EXTERN_ID'], is_raw: true, data: [['m1']] }, access_token: TOKEN });
  });

  it('follows list cursors until there is no next page', async () => {
    answers.push(
      { status: 200, body: JSON.stringify({ data: [{ id: '1' }], paging: { cursors: { after: 'c1' }, next: 'https://x/next' } }) },
      { status: 200, body: JSON.stringify({ data: [{ id: '2' }], paging: { cursors: { after: 'c2' } } }) },
    );
    expect(await client().listCustomAudiences('act_9', ['id'])).toEqual([{ id: '1' }, { id: '2' }]);
    expect(recorded.map((request) => request.url.searchParams.get('after'))).toEqual([null, 'c1']);
  });

  it('reads the terms answer', async () => {
    answers.push({ status: 200, body: '{"id":"act_9","tos_accepted":{"custom_audience_tos":1}}' }, { status: 200, body: '{"id":"act_9","tos_accepted":{}}' });
    expect(await client().getAdAccountTermsAccepted('act_9')).toBe(true);
    expect(await client().getAdAccountTermsAccepted('act_9')).toBe(false);
  });

  it('refuses ids that are not numbers before sending anything', async () => {
    await expect(client().getCustomAudience('../me', ['id'])).rejects.toThrow(RangeError);
    await expect(client().getAdAccountTermsAccepted('acct_9')).rejects.toThrow(RangeError);
    expect(recorded).toEqual([]);
  });
});

describe('GraphClient answers', () => {
  it('reads the ad account\'s wait from the usage header of an error response', async () => {
    answers.push({
      status: 400,
      body: JSON.stringify({ error: { message: '(#80003) too many calls', type: 'OAuthException', code: 80003, error_subcode: 2446079, fbtrace_id: 'T' } }),
      headers: {
        'x-business-use-case-usage': JSON.stringify({
          '9': [{ type: 'custom_audience', call_count: 100, estimated_time_to_regain_access: 12 }],
          '8': [{ type: 'custom_audience', call_count: 100, estimated_time_to_regain_access: 50 }],
        }),
      },
    });
    const error = await failure(client().listCustomAudiences('act_9', ['id']));
    expect(error).toMatchObject({ kind: 'throttled', retryAfterMs: 12 * 60_000, fbtraceId: 'T' });
  });

  it('treats an error envelope as an error even with status 200', async () => {
    answers.push({ status: 200, body: '{"error":{"code":"190","error_subcode":"463","type":"OAuthException"}}' });
    expect(await failure(client().getCustomAudience('5', ['id']))).toMatchObject({ kind: 'needs_person', code: 190, subcode: 463 });
  });

  it('treats a proxy\'s HTML error page as retryable', async () => {
    answers.push({ status: 504, body: '<html>Gateway Timeout</html>', headers: { 'content-type': 'text/html' } });
    expect(await failure(client().getCustomAudience('5', ['id']))).toMatchObject({ kind: 'retryable', httpStatus: 504, code: undefined });
  });

  it('treats a success body of the wrong shape as retryable', async () => {
    answers.push({ status: 200, body: '{"unexpected":true}' });
    expect(await failure(client().createCustomAudience('1', { name: 'n', description: '', customerFileSource: 'BOTH_USER_AND_PARTNER_PROVIDED' }))).toMatchObject({
      kind: 'retryable',
      subcodeName: 'malformed_response',
    });
  });

  it('turns a refused connection into a retryable error without a code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new GraphClient({ baseUrl: `http://127.0.0.1:${port}`, apiVersion: 'v27.0', accessToken: TOKEN });
    const error = await failure(unreachable.getCustomAudience('5', ['id']));
    expect(error).toMatchObject({ kind: 'retryable', subcodeName: 'network_error', code: undefined });
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain(TOKEN);
  });

  it('refuses a malformed API version at construction', () => {
    expect(() => new GraphClient({ baseUrl, apiVersion: '27', accessToken: TOKEN })).toThrow(RangeError);
  });
});
