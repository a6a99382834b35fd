import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { inspectSourceRole, privilegedRoleSentence, privilegedRoleWarning, type SourceRole } from '../db/source-role';
import { FailureType, type NeedsPersonDetails } from '../workflows/failure-types';
import type { ActivityDependencies } from './dependencies';

/**
 * Whether audience queries may run as the source role: yes, with a warning for `status` when the role is
 * privileged but SOURCE_ALLOW_PRIVILEGED_ROLE lets it run; or no, with the sentence that says what is wrong.
 */
export type SourceVerdict = { fit: true; warning?: string } | { fit: false; reason: string };

/** Whether audience queries may run on the worker's source connection, checked before they are sent. */
export interface SourceAccess {
  assess(): Promise<SourceVerdict>;
}

/** A fit role is checked again after this long: the first cycle of every audience meets a check at most this old. */
const RECHECK_FIT_ROLE_MS = 5 * 60 * 1000;

/**
 * Checks the source role on the worker's source pool. A fit role is remembered for a few minutes, so a fleet of
 * audiences costs one check per few minutes; an unfit one is checked again every time, so a role fixed in the
 * database is noticed at the next cycle or `resume`.
 */
export function createSourceAccess(sourcePool: Pool, options: { allowPrivileged: boolean }): SourceAccess {
  let remembered: { role: SourceRole; at: number } | undefined;
  let checking: Promise<SourceRole> | undefined;
  const inspect = (): Promise<SourceRole> => {
    if (remembered && Date.now() - remembered.at < RECHECK_FIT_ROLE_MS) return Promise.resolve(remembered.role);
    checking ??= inspectSourceRole(sourcePool)
      .then((role) => {
        remembered = role.excess.length === 0 || options.allowPrivileged ? { role, at: Date.now() } : undefined;
        return role;
      })
      .finally(() => (checking = undefined));
    return checking;
  };
  return {
    async assess() {
      const role = await inspect();
      if (role.excess.length === 0) return { fit: true };
      if (options.allowPrivileged) return { fit: true, warning: privilegedRoleWarning(role) };
      return { fit: false, reason: privilegedRoleSentence(role) };
    },
  };
}

/** The warning for `status`, if any; a role that is not fit fails the cycle as needing a person. */
export async function ensureSourceFit(access: SourceAccess): Promise<string | undefined> {
  const verdict = await access.assess();
  if (verdict.fit) return verdict.warning;
  const details: NeedsPersonDetails = { reason: verdict.reason, cause: 'source_role' };
  throw ApplicationFailure.nonRetryable(verdict.reason, FailureType.NeedsPerson, details);
}

export type SourceAccessCheck = { status: 'ok' } | { status: 'needs_person'; reason: string };

export function createSourceAccessActivities(deps: ActivityDependencies) {
  return {
    /** The parked audience's check, once per interval, while the source role is unfit. */
    async checkSourceAccess(): Promise<SourceAccessCheck> {
      const verdict = await deps.sourceAccess.assess();
      return verdict.fit ? { status: 'ok' } : { status: 'needs_person', reason: verdict.reason };
    },
  };
}
