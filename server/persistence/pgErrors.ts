/** Postgres SQLSTATE codes the persistence layer turns into meaningful errors. */
const UNIQUE_VIOLATION = "23505";

/** Whether `error` is Postgres refusing a duplicate under the named unique constraint. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const pgError = error as { code?: string; constraint?: string } | null;
  return pgError?.code === UNIQUE_VIOLATION && pgError.constraint === constraint;
}
