import { CONFIG_VARIABLES } from "./configVariables";

export interface ConfigVariableDescription {
  name: string;
  description: string;
  /** "(unset)" when the variable is optional and has no default. */
  default: string;
}

/** Every variable with its meaning and default, in declaration order: what the README's table renders. */
export function describeConfig(): ConfigVariableDescription[] {
  return Object.entries(CONFIG_VARIABLES).map(([name, variable]) => ({
    name,
    description: variable.description,
    default: "defaultText" in variable ? variable.defaultText : "(unset)",
  }));
}

/** The same list as a Markdown table. */
export function describeConfigMarkdown(): string {
  const rows = describeConfig().map(
    (v) => `| \`${v.name}\` | ${v.default === "(unset)" ? "" : `\`${v.default}\``} | ${v.description} |`
  );
  return ["| Variable | Default | Meaning |", "|---|---|---|", ...rows].join("\n");
}
