export { loadConfig, ConfigError, type GatewayConfig, type UpstreamTimeouts, type ChainConfig, type SettlementConfig } from "./loadConfig";
export { describeConfig, describeConfigMarkdown, type ConfigVariableDescription } from "./describeConfig";
export { CONFIG_VARIABLES, type LogLevel } from "./configVariables";
