// Upload the files named by `path` (files, directories, and `dir/*.ext` globs) as one artifact.
const fs = require("fs");
const path = require("path");
const core = require("@actions/core");
const artifact = require("@actions/artifact");

function files(entry) {
  if (entry.includes("*")) {
    const dir = path.dirname(entry);
    const [prefix, suffix] = path.basename(entry).split("*");
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith(suffix))
      .map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).isFile());
  }
  if (!fs.existsSync(entry)) return [];
  if (fs.statSync(entry).isFile()) return [entry];
  return fs.readdirSync(entry).flatMap((f) => files(path.join(entry, f)));
}

// upload-artifact's rule: the artifact's root is the least common ancestor of the search paths.
function commonRoot(paths) {
  const parts = paths.map((p) => p.split(path.sep));
  const shared = [];
  for (let i = 0; parts.every((p) => i < p.length && p[i] === parts[0][i]); i++) shared.push(parts[0][i]);
  return shared.join(path.sep) || path.sep;
}

async function main() {
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  const lines = core.getInput("path", { required: true }).split("\n").map((l) => l.trim()).filter(Boolean)
    .map((l) => path.resolve(workspace, l));
  const root = commonRoot(lines.map((l) => (l.includes("*") ? path.dirname(l) : l.replace(/\/$/, ""))));
  const found = lines.flatMap(files);
  if (found.length === 0) {
    const mode = core.getInput("if-no-files-found");
    if (mode === "error") return core.setFailed("no files to upload");
    if (mode === "warn") core.warning("no files to upload");
    return;
  }
  const result = await artifact.create().uploadArtifact(core.getInput("name"), found, root);
  if (result.failedItems.length) return core.setFailed(`could not upload ${result.failedItems.join(", ")}`);
  core.info(`uploaded ${result.artifactItems.length} file(s) as artifact ${result.artifactName}`);
}

main().catch((error) => core.setFailed(error.message));
