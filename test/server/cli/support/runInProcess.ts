import { runCli } from "../../../../server/cli/main";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one `shareai …` command line in this process, with `env` as its environment, capturing its output. */
export async function runShareai(env: Record<string, string>, ...argv: string[]): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    env,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  return { code, stdout, stderr };
}

/** The JSON a `--json` command printed. */
export async function runJson<T = any>(env: Record<string, string>, ...argv: string[]): Promise<T> {
  const run = await runShareai(env, "--json", ...argv);
  if (run.code !== 0) throw new Error(`shareai ${argv.join(" ")} failed (${run.code}): ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
