// Runs `steward agent ...` from source as a real child process (tests spawn it with
// `node --import tsx test/helpers/agent-process.ts agent --type ...`), through the same
// commander registration that src/cli/main.ts uses.
import { Command } from 'commander';
import { registerAgentCommand } from '../../src/cli/agent.js';

const program = new Command('steward');
registerAgentCommand(program);
program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`steward: ${err.message}\n`);
  process.exit(1);
});
