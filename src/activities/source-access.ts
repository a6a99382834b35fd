import { ApplicationFailure } from '@temporalio/activity';
import type { Pool } from 'pg';
import { inspectSourceRole, privilegedRoleSentence, privilegedRoleWarning, type SourceRole } from '../db/source-role';
import { FailureType, type NeedsPersonDetails } from '../workflows/failure-types';
import type { ActivityDependencies } from './dependencies';

/** Whether audience queries may run on the worker's source connection, checked before they are sent. */
export interface SourceAccess {
  /**
   * Resolves when the source role is fit to run audience queries, with a warning for `status` when it is not but
   * SOURCE_ALLOW_PRIVILEGED_ROLE lets it run; otherwise throws a NeedsPerson failure that names what is wrong.
   */
  ensureFit(): Promise<string | undefined>;
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
    async ensureFit() {
      const role = await inspect();
      if (role.excess.length === 0) return undefined;
      if (options.allowPrivileged) return privilegedRoleWarning(role);
      const reason = privilegedRoleSentence(role);
      const details: NeedsPersonDetails = { reason, cause: 'source_role' };
      throw ApplicationFailure.nonRetryable(reason, FailureType.NeedsPerson, details);
    },
  };
}

export type SourceAccessCheck = { status: 'ok' } | { status: 'needs_person'; reason: string };

export function createSourceAccessActivities(deps: ActivityDependencies) {
  return {
    /** The parked audience's check, once per interval, while the source role is unfit. */
    async checkSourceAccess(): Promise<SourceAccessCheck> {
      try {
        await deps.sourceAccess.ensureFit();
        return { status: 'ok' };
      } catch (error) {
        if (error instanceof ApplicationFailure && error.type === FailureType.NeedsPerson) {
          return { status: 'needs_person', reason: error.message };
        }
        throw error;
      }
    },
  };
}
