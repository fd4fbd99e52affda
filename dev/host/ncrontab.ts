import { CronExpressionParser, type CronExpression } from 'cron-parser';

/**
 * NCRONTAB schedules as the timer trigger reads them: six fields, seconds first, always UTC locally (like the
 * Functions host without WEBSITE_TIME_ZONE). cron-parser 5 reads six-field expressions with seconds first, so it
 * does the parsing; this module only insists on six fields (the host rejects five) and resolves `%SETTING%`.
 */
export interface Schedule {
  expression: string;
  /** First occurrence strictly after `after`. */
  next(after: Date): Date;
}

export function resolveSchedule(schedule: string, env: NodeJS.ProcessEnv): string {
  const setting = /^%([^%]+)%$/.exec(schedule.trim());
  if (!setting) return schedule.trim();
  const value = env[setting[1]];
  if (value === undefined || value.trim() === '') {
    throw new Error(`Timer schedule refers to the setting ${setting[1]}, which is not set`);
  }
  return value.trim();
}

export function parseSchedule(expression: string): Schedule {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `"${expression}" is not a six-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week})`,
    );
  }
  let cron: CronExpression;
  try {
    cron = CronExpressionParser.parse(expression, { tz: 'UTC', strict: false });
  } catch (error) {
    throw new Error(`"${expression}" is not a valid NCRONTAB expression: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return {
    expression,
    next(after) {
      cron.reset(after);
      return cron.next().toDate();
    },
  };
}
