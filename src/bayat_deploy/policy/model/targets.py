"""Deployment targets: where an environment's deployments land (standard: Environment-Specific Guidelines)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Union

from bayat_deploy.policy.model.fields import HOST, HOST_HINT, STATE_DIR, STATE_DIR_HINT, URL_PATH, URL_PATH_HINT, f
from bayat_deploy.policy.types import Duration, Quantity


@dataclass(frozen=True, kw_only=True)
class DockerHost:
    """Containers on a Docker host, traffic through a router (HAProxy or nginx) on the same host."""

    type: Literal["docker-host"] = f("Target type.")
    router: Literal["haproxy", "nginx"] = f(
        "What splits the traffic between tracks: haproxy changes weights through its runtime API, so a switch "
        "closes no connection; nginx reloads for each change, which closes idle keep-alive connections.",
        "haproxy")
    docker_host: str | None = f("Docker engine of the machine the job runs on (unix:///var/run/docker.sock, "
                                "tcp://127.0.0.1:2375); default: DOCKER_HOST. A remote engine (ssh://, tcp://host) "
                                "is refused: the router and the record are on the job's machine, so run the jobs on the "
                                "host.", None)
    listen: str = f("Address the router listens on.", "127.0.0.1", pattern=HOST, pattern_hint=HOST_HINT)
    port: int | None = f("Port the router serves the environment on; default 8081-8084 by tier.", None,
                         minimum=1, maximum=65535)
    container_port: int = f("Port the application listens on inside the container.", 8080, minimum=1, maximum=65535)
    health_path: str = f("Health endpoint used during the switch.", "/health", pattern=URL_PATH,
                         pattern_hint=URL_PATH_HINT)
    state_dir: str = f("Directory on the Docker host for the router, deployment records and locks; it must outlive "
                       "CI jobs, so it is outside the checkout by default.",
                       "~/.local/state/bayat-deploy/{project}/{environment}", pattern=STATE_DIR,
                       pattern_hint=STATE_DIR_HINT)
    env: dict[str, str] = f("Extra environment variables for the containers (secrets by reference).", {})


@dataclass(frozen=True, kw_only=True)
class GitOps:
    """Deploy by committing to an environment config repository that Argo CD or Flux syncs."""

    tool: Literal["argocd", "flux"] = f("GitOps controller.", "argocd")
    repository: str = f("Config repository (URL or path).")
    branch: str = f("Branch the controller watches.", "main")
    path: str = f("Directory per environment inside the repository.", "environments/{environment}")
    sync_timeout: Duration = f("How long to wait for the controller's sync signal.", Duration(600))
    application: str = f("Name of the Argo CD Application / Flux HelmRelease of the environment.",
                         "{project}-{environment}")


@dataclass(frozen=True, kw_only=True)
class ResourceQuota:
    """Namespace ResourceQuota (standard: apply resource quotas and limits)."""

    cpu: Quantity = f("Total CPU requests in the namespace.", Quantity("4"))
    memory: Quantity = f("Total memory requests in the namespace.", Quantity("8Gi"))
    pods: int = f("Maximum pods.", 20, minimum=1)


@dataclass(frozen=True, kw_only=True)
class Kubernetes:
    """Helm releases in a namespace per environment (standard: Kubernetes)."""

    type: Literal["kubernetes"] = f("Target type.")
    chart: str = f("Chart directory or reference.", "chart")
    release: str = f("Helm release name.", "{project}")
    namespace: str = f("Namespace; one per environment for isolation.", "{project}-{environment}")
    context: str | None = f("kubeconfig context (a cluster per environment is allowed).", None)
    values: dict[str, Any] = f("Helm values layered over the chart's values.yaml.", {})
    values_files: tuple[str, ...] = f("Extra values files; {environment} is substituted.", ())
    timeout: Duration = f("helm --timeout.", Duration(300))
    quota: ResourceQuota = f("Namespace resource quota.", ResourceQuota())
    network_policy: bool = f("Restrict traffic with a NetworkPolicy.", True)
    argo_rollouts: bool = f("Use Argo Rollouts for canary/blue-green where the cluster has it.", False)
    gitops: GitOps | None = f("Deploy through Argo CD / Flux instead of running helm.", None)
    state: Literal["cluster", "local"] = f(
        "Where the deployment record, the lock and the tracks live: `cluster` keeps them in the environment's "
        "namespace (ConfigMap `bayat-deploy-<environment>`, Lease `bayat-deploy-<environment>-lock`), so any "
        "runner with the kubeconfig sees them; `local` keeps them in state_dir (a laptop or one persistent "
        "runner).", "cluster")
    state_dir: str = f("Directory for generated values and the config repository clone, and for the record and "
                       "lock when `state: local`; outside the checkout by default.",
                       "~/.local/state/bayat-deploy/{project}/{environment}", pattern=STATE_DIR,
                       pattern_hint=STATE_DIR_HINT)


@dataclass(frozen=True, kw_only=True)
class Serverless:
    """Functions behind aliases with weighted traffic (standard: Serverless)."""

    type: Literal["serverless"] = f("Target type.")
    framework: Literal["sam", "serverless"] = f("Infrastructure-as-code tool.", "sam")
    template: str = f("Template file (template.yaml or serverless.yml).", "template.yaml")
    function: str = f("Function (logical id) whose alias shifts traffic.", "Api")
    alias: str = f("Alias that receives traffic.", "live")
    region: str = f("AWS region.", "us-west-2")
    account: str | None = f("AWS account id; the standard asks for a separate account per environment.", None,
                            pattern=r"^\d{12}$", pattern_hint="a 12-digit AWS account id")
    reserved_concurrency: int | None = f("Concurrency limit.", None, minimum=0)
    function_name: str = f("Deployed function name the alias belongs to (the aws lambda commands use it).",
                           "{project}-{environment}")
    stack: str = f("CloudFormation stack (SAM) or service stage the deployment updates.", "{project}-{environment}")
    state_dir: str = f("Directory for deployment records, locks and the health-check payloads.",
                       "~/.local/state/bayat-deploy/{project}/{environment}", pattern=STATE_DIR,
                       pattern_hint=STATE_DIR_HINT)


@dataclass(frozen=True, kw_only=True)
class Ansible:
    """Configuration management hand-off after Terraform."""

    playbook: str = f("Playbook path.")
    inventory: str = f("Inventory path; {environment} is substituted.", "inventories/{environment}")


@dataclass(frozen=True, kw_only=True)
class Terraform:
    """VMs managed with Terraform, configured with Ansible (standard: Traditional Hosting)."""

    type: Literal["terraform"] = f("Target type.")
    directory: str = f("Terraform root module.", "infra")
    workspace: str = f("Workspace per environment.", "{environment}")
    var_files: tuple[str, ...] = f("Variable files; {environment} is substituted.", ())
    ansible: Ansible | None = f("Ansible hand-off after apply.", None)
    state_dir: str = f("Directory for deployment records, locks and the generated tfvars.",
                       "~/.local/state/bayat-deploy/{project}/{environment}", pattern=STATE_DIR,
                       pattern_hint=STATE_DIR_HINT)


Target = Union[DockerHost, Kubernetes, Serverless, Terraform]


@dataclass(frozen=True, kw_only=True)
class Resources:
    """Scale of an environment: the only thing that should differ between environments (standard: parity)."""

    replicas: int = f("Instances / pods.", 1, minimum=1, maximum=1000)
    cpu: Quantity = f("CPU request.", Quantity("200m"))
    memory: Quantity = f("Memory request.", Quantity("256Mi"))
    cpu_limit: Quantity = f("CPU limit.", Quantity("500m"))
    memory_limit: Quantity = f("Memory limit.", Quantity("512Mi"))
    autoscaling: bool = f("Horizontal autoscaling.", False)
    min_replicas: int = f("Autoscaling minimum.", 2, minimum=1)
    max_replicas: int = f("Autoscaling maximum.", 10, minimum=1)
    target_cpu: int = f("Autoscaling CPU target (%).", 80, minimum=1, maximum=100)
