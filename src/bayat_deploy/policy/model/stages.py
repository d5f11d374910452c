"""Policy for the build-side stages: versioning, artifacts, registries, build, test, scan, release notes, config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from bayat_deploy.policy.model.fields import REF_HINT, REF_PATTERN, URL_PATH, URL_PATH_HINT, f
from bayat_deploy.policy.types import Duration, Pattern, Percent, SecretRef, SemVer, Severity, Url

NAME = r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$"
NAME_HINT = "lower-case letters, digits, dots, dashes and underscores"


@dataclass(frozen=True, kw_only=True)
class Versioning:
    """Semantic Versioning computed from Conventional Commits (standard: Versioning)."""

    scheme: Literal["semver"] = f("Version scheme; the standard mandates SemVer.", "semver")
    commits: Literal["conventional"] = f("Commit convention the next version is computed from.", "conventional")
    tag_prefix: str = f("Prefix of release tags (v1.2.3).", "v", pattern=r"^[A-Za-z0-9._/-]*$",
                        pattern_hint="letters, digits and . _ / - (or empty)")
    initial: SemVer = f("Version used when the repository has no release tag yet.", SemVer("0.1.0"))
    release_branches: tuple[str, ...] = f(
        "Branches (glob patterns) that produce stable releases; others get pre-release versions.",
        ("main",), min_items=1, pattern=REF_PATTERN, pattern_hint=REF_HINT)
    prerelease_identifier: str = f("Pre-release identifier on non-release branches (1.4.0-rc.3).", "rc",
                                   pattern=r"^[0-9A-Za-z-]+$")
    build_metadata: bool = f("Append +<short sha> build metadata to pre-release versions.", True)
    version_file: str = f("Version file written by `bayat-deploy version write` and shipped with each release.",
                          "version.json")


@dataclass(frozen=True, kw_only=True)
class DockerImage:
    """A container image built with the Docker SDK, labelled with OCI annotations."""

    type: Literal["docker-image"] = f("Artifact type.")
    name: str | None = f("Image name inside the registry; default: the project name.", None,
                         pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$",
                         pattern_hint="a lower-case image path such as bayat/my-service")
    context: str = f("Build context directory, relative to the repository.", ".")
    dockerfile: str = f("Dockerfile path, relative to the context.", "Dockerfile")
    build_args: dict[str, str] = f("Build arguments passed to the Dockerfile.", {})
    target: str | None = f("Multi-stage build target.", None)
    registry: str = f("Name of the entry under `registries` the image is published to.", "containers")
    sbom: bool = f("Produce a CycloneDX SBOM with trivy.", True)
    sign: bool = f("Sign the pushed image (see the registry's `signing`).", True)


@dataclass(frozen=True, kw_only=True)
class PythonPackage:
    """A Python distribution built with `python -m build`."""

    type: Literal["python-package"] = f("Artifact type.")
    name: str = f("Distribution name.", pattern=NAME, pattern_hint=NAME_HINT)
    path: str = f("Directory holding pyproject.toml.", ".")
    registry: str = f("Registry entry to publish to.", "python")


@dataclass(frozen=True, kw_only=True)
class NpmPackage:
    """An npm package packed with `npm pack`."""

    type: Literal["npm-package"] = f("Artifact type.")
    name: str = f("Package name.", pattern=r"^(@[a-z0-9-~][a-z0-9-._~]*/)?[a-z0-9-~][a-z0-9-._~]*$")
    path: str = f("Directory holding package.json.", ".")
    registry: str = f("Registry entry to publish to.", "npm")


@dataclass(frozen=True, kw_only=True)
class HelmChart:
    """A Helm chart packaged with `helm package`."""

    type: Literal["helm-chart"] = f("Artifact type.")
    name: str = f("Chart name.", pattern=NAME, pattern_hint=NAME_HINT)
    path: str = f("Chart directory (holding Chart.yaml).", "chart")
    registry: str = f("Registry entry to publish to.", "charts")


@dataclass(frozen=True, kw_only=True)
class TerraformModule:
    """A Terraform module archived for a module registry."""

    type: Literal["terraform-module"] = f("Artifact type.")
    name: str = f("Module name.", pattern=NAME, pattern_hint=NAME_HINT)
    path: str = f("Module directory.", "infra")
    registry: str = f("Registry entry to publish to.", "modules")


@dataclass(frozen=True, kw_only=True)
class OsPackage:
    """An OS package (DEB or RPM) for system components."""

    type: Literal["os-package"] = f("Artifact type.")
    name: str = f("Package name.", pattern=NAME, pattern_hint=NAME_HINT)
    format: Literal["deb", "rpm"] = f("Package format.", "deb")
    path: str = f("Directory whose contents are packaged (a DEBIAN/ control tree for deb).", "package")
    registry: str = f("Registry entry to publish to.", "os-packages")


Artifact = Union[DockerImage, PythonPackage, NpmPackage, HelmChart, TerraformModule, OsPackage]


@dataclass(frozen=True, kw_only=True)
class Signing:
    """How published artifacts are signed and verified (standard: registries support signing)."""

    method: Literal["gpg", "cosign", "none"] = f("gpg: skopeo simple signing; cosign where installed.", "gpg")
    key: str | None = f("Signing identity: GPG fingerprint/e-mail, or cosign key reference.", None)
    keyring: str | None = f("GPG home directory holding the keys (defaults to the user's).", None)
    passphrase: SecretRef | None = f("Secret reference for the key's passphrase (gpg) or password (cosign).", None)
    signature_store: str = f("Directory (or URL) where simple-signing signatures are kept.", ".bayat/signatures")


@dataclass(frozen=True, kw_only=True)
class Registry:
    """An artifact registry. The standard requires authentication for uploads."""

    url: str = f("Registry address: host[:port][/path], or a full URL for package indexes.",
                 examples=["harbor.example.com/bayat", "127.0.0.1:5000"])
    username: SecretRef | None = f("Secret reference for the user name (env:REGISTRY_USER).", None)
    password: SecretRef | None = f("Secret reference for the password or token.", None)
    insecure: bool = f("Plain HTTP (only for a registry on loopback in tests).", False)
    signing: Signing = f("Signing and verification.", Signing())


@dataclass(frozen=True, kw_only=True)
class Retention:
    """Registry retention (standard: maintain artifact retention policies)."""

    keep_prereleases: int = f("Pre-release / SHA tags kept per branch; older ones are deleted.", 10, minimum=1)
    keep_days: int | None = f("Also keep any pre-release younger than this many days.", None, minimum=0)


@dataclass(frozen=True, kw_only=True)
class Command:
    """A shell command run by a stage."""

    name: str = f("Short name shown in reports.", pattern=NAME, pattern_hint=NAME_HINT)
    run: str = f("Shell command.", multiline=True)
    working_directory: str = f("Directory it runs in, relative to the repository.", ".")
    timeout: Duration = f("Time limit.", Duration(1800))


@dataclass(frozen=True, kw_only=True)
class Build:
    """Build stage: compile, static analysis, artifacts (standard: Deployment Pipeline, Build)."""

    static_analysis: tuple[Command, ...] = f("Static analysis commands; any non-zero exit fails the build.", ())


@dataclass(frozen=True, kw_only=True)
class TestSuite:
    """One kind of automated tests."""

    run: str = f("Command that runs the tests.", multiline=True)
    junit: str | None = f("Glob of JUnit XML reports the command writes.", None)
    working_directory: str = f("Directory it runs in.", ".")
    timeout: Duration = f("Time limit.", Duration(1800))


@dataclass(frozen=True, kw_only=True)
class Performance:
    """Performance tests for staging/production (standard: Automated Testing)."""

    environments: tuple[str, ...] = f("Environments whose deploys need a performance test.", ("staging", "production"))
    run: str | None = f("A load-test command; without it the built-in HTTP load probe runs.", None, multiline=True)
    path: str = f("Path the built-in probe requests.", "/", pattern=URL_PATH, pattern_hint=URL_PATH_HINT)
    requests: int = f("Requests the built-in probe sends.", 200, minimum=1, maximum=100000)
    concurrency: int = f("Parallel connections of the built-in probe.", 10, minimum=1, maximum=256)
    percentile: int = f("Latency percentile compared with max_latency.", 95, minimum=50, maximum=100)
    max_latency: Duration = f("Highest allowed latency at that percentile.", Duration(0.5))
    max_error_rate: Percent = f("Highest allowed share of failed requests.", Percent(1))
    timeout: Duration = f("Time limit of the load command; the built-in probe stops sending when it is reached.",
                          Duration(300))


@dataclass(frozen=True, kw_only=True)
class Tests:
    """Test stage (standard: unit, integration, end-to-end, performance)."""

    unit: TestSuite | None = f("Unit tests.", None)
    integration: TestSuite | None = f("Integration tests.", None)
    e2e: TestSuite | None = f("End-to-end tests.", None)
    performance: Performance = f("Performance tests.", Performance())


@dataclass(frozen=True, kw_only=True)
class Scan:
    """Security scanning (standard: no critical or high vulnerabilities)."""

    severity: Severity = f("Fail on findings at or above this severity; the standard: HIGH (so HIGH and CRITICAL).",
                           Severity("HIGH"))
    scanners: tuple[Literal["vuln", "secret", "misconfig", "license"], ...] = f(
        "trivy scanners run over the repository.", ("vuln", "secret", "misconfig"), min_items=1, unique=True)
    images: bool = f("Also scan every built image.", True)
    sast: bool = f("Run the language's own SAST analyser where the repository has that language (bandit for Python).",
                   True)
    infrastructure: bool = f("Validate infrastructure code: helm lint/template, terraform validate.", True)
    ignore_file: str = f("Ignore file; every entry needs a reason and an expiry date.", ".trivyignore.yaml")


SECTIONS = ("summary", "version", "date", "features", "bug_fixes", "known_issues", "dependencies",
            "configuration_changes", "migration_steps", "rollback_plan")


@dataclass(frozen=True, kw_only=True)
class ReleaseNotes:
    """Release documentation (standard: Release Notes, ten sections)."""

    sections: tuple[Literal[SECTIONS], ...] = f("Sections every release note has.", SECTIONS, unique=True)
    required: tuple[Literal[SECTIONS], ...] = f(
        "Sections that must not be empty where release notes are required (an empty list may say 'None').",
        ("summary", "version", "date", "rollback_plan"), unique=True)
    required_for: tuple[str, ...] = f("Environments whose deploys need complete release notes.", ("production",))
    known_issues_file: str | None = f("File listing known issues, copied into the notes.", "KNOWN_ISSUES.md")
    distribute_to: tuple[str, ...] = f("Notification routes the notes are sent to.", ())


@dataclass(frozen=True, kw_only=True)
class ConfigKey:
    """One configuration key and what a valid value looks like."""

    type: Literal["string", "int", "float", "bool", "url", "enum", "duration", "email", "hostname", "port"] = f(
        "Value type.", "string")
    required: bool = f("Deployment fails when the key has no value.", False)
    default: str | int | float | bool | None = f("Default value (the 'defaults in code' layer).", None)
    values: tuple[str, ...] = f("Allowed values for type enum.", ())
    pattern: Pattern | None = f("Regular expression the value must match.", None)
    secret: bool = f("Value must be a secret reference, never plaintext.", False)
    check_connectivity: bool = f("With --connect, check the URL/host answers.", False)
    description: str = f("What the key is for.", "")


@dataclass(frozen=True, kw_only=True)
class ConfigService:
    """A configuration service read over HTTP (the fourth layer of the standard's hierarchy)."""

    url: Url = f("Base URL; GET {url}/{environment} returns a JSON object of keys.")
    token: SecretRef | None = f("Bearer token reference.", None)
    timeout: Duration = f("Request timeout.", Duration(5))


@dataclass(frozen=True, kw_only=True)
class Config:
    """Configuration management (standard: defaults -> files -> environment variables -> service)."""

    files: tuple[str, ...] = f("Configuration files, later ones win; {environment} is substituted.",
                               ("config/default.yml", "config/{environment}.yml"))
    env_prefix: str = f("Environment variables with this prefix override file values.", "APP_")
    service: ConfigService | None = f("Configuration service.", None)
    keys: dict[str, ConfigKey] = f("Known keys and their rules.", {})
