import { Client, Connection } from '@temporalio/client';
import { workflowIdFor } from '../../src/workflows/audience-config';
import { sha256, type TestMember } from './expected-rows';
import type { TestStack } from './test-stack';

/**
 * Exports the full history (every run, as JSON) of each audience's workflow and checks that none of the members'
 * emails, phones, their hashes, or the access token appear anywhere in it: inputs, results, failures, search
 * attributes, memos, current details.
 */
export async function expectHistoriesFreeOfMemberData(
  stack: TestStack,
  audienceKeys: string[],
  members: TestMember[],
): Promise<void> {
  const secrets = [stack.env.FB_ACCESS_TOKEN as string];
  for (const member of members) {
    for (const email of member.emails) secrets.push(email, sha256(email));
    if (member.phone) secrets.push(member.phone, sha256(member.phone));
  }
  const connection = await Connection.connect({ address: stack.devServer.address });
  try {
    const client = new Client({ connection });
    for (const key of audienceKeys) {
      const exported: string[] = [];
      for await (const execution of client.workflow.list({ query: `WorkflowId = '${workflowIdFor(key)}'` })) {
        const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
        exported.push(JSON.stringify(history, payloadBytesAsText));
      }
      expect(exported.length).toBeGreaterThan(0);
      const text = exported.join('\n');
      const leaked = secrets.filter((secret) => text.includes(secret));
      expect(leaked).toEqual([]);
    }
  } finally {
    await connection.close();
  }
}

/** Payload bytes appear in history as byte arrays; searching them needs their text. */
function payloadBytesAsText(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  const buffer = value as { type?: unknown; data?: unknown };
  if (buffer && buffer.type === 'Buffer' && Array.isArray(buffer.data)) return Buffer.from(buffer.data).toString('utf8');
  return value;
}
