import { SCHEMA } from '../../src/db/pool';

/** For tests' own statements on the member tables: the number of the audience whose key is `$1`. */
export const AUDIENCE_NO = `(SELECT audience_no FROM ${SCHEMA}.audiences WHERE audience_key = $1)`;
