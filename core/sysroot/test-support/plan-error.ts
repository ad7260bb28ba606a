import { SysrootPlanError } from '../errors';

/** Awaits `plan` and returns the SysrootPlanError it rejects with; any other outcome fails the test. */
export async function planError(plan: Promise<unknown>): Promise<SysrootPlanError> {
  try {
    await plan;
  } catch (error) {
    if (error instanceof SysrootPlanError) return error;
    throw error;
  }
  throw new Error('the plan succeeded, but the test expects a SysrootPlanError');
}
