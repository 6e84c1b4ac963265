/** The UTC calendar day of `at`, `YYYY-MM-DD`: the unit of a key's daily spend cap. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}
