import { adoptionProblem } from '../../../src/facebook/audience-adoption';

describe('adoptionProblem', () => {
  const fitting = {
    id: '555',
    account_id: '1001',
    name: 'Made elsewhere',
    subtype: 'CUSTOM',
    is_value_based: false,
    data_source: { type: 'FILE_IMPORTED', sub_type: 'MULTI_HASHES' },
  };

  it.each<[string, Record<string, unknown>, string, boolean, RegExp | undefined]>([
    ['a customer list of the account', fitting, 'act_1001', false, undefined],
    ['one never uploaded to', { ...fitting, data_source: { type: 'UNKNOWN', sub_type: 'ANYTHING' } }, 'act_1001', false, undefined],
    ['one of another ad account', fitting, 'act_2002', false, /belongs to ad account act_1001, not act_2002; connect it with --ad-account act_1001/],
    ['a website audience', { ...fitting, subtype: 'WEBSITE' }, 'act_1001', false, /is a WEBSITE audience/],
    [
      'one filled with single-key uploads',
      { ...fitting, data_source: { type: 'FILE_IMPORTED', sub_type: 'HASHES_OR_USER_IDS' } },
      'act_1001',
      false,
      /single-key uploads/,
    ],
    ['a value-based one', { ...fitting, is_value_based: true }, 'act_1001', false, /is value-based and this connection is not/],
    ['a plain one for a value-based connection', fitting, 'act_1001', true, /is not value-based and this connection is value-based/],
  ])('%s', (_case, audience, adAccountId, valueBased, problem) => {
    const found = adoptionProblem(audience, adAccountId, valueBased);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});
