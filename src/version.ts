// The version every process reports (status, node registration, logs): package.json's. An
// import rather than a read at run time, so that the CLI's bundle (bin/build-cli.mjs) carries it.
import packageJson from '../package.json' with { type: 'json' }

export const VERSION: string = packageJson.version
