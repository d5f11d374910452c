// Download every artifact whose name matches `pattern` into `path` (merged, or one folder each).
const fs = require("fs");
const os = require("os");
const path = require("path");
const core = require("@actions/core");
const artifact = require("@actions/artifact");

async function main() {
  const name = core.getInput("name");
  const pattern = name || core.getInput("pattern");
  const prefix = !name && pattern.endsWith("*") ? pattern.slice(0, -1) : null;
  const target = path.resolve(process.env.GITHUB_WORKSPACE || process.cwd(), core.getInput("path"));
  const merge = Boolean(name) || core.getInput("merge-multiple") === "true";
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "artifacts-"));
  for (const item of await artifact.create().downloadAllArtifacts(scratch)) {
    if (prefix === null ? item.artifactName !== pattern : !item.artifactName.startsWith(prefix)) continue;
    const destination = merge ? target : path.join(target, item.artifactName);
    fs.mkdirSync(destination, { recursive: true });
    fs.cpSync(item.downloadPath, destination, { recursive: true });
    core.info(`downloaded ${item.artifactName}`);
  }
  fs.rmSync(scratch, { recursive: true, force: true });
}

main().catch((error) => core.setFailed(error.message));
