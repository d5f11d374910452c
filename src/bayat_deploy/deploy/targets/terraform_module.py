"""The terraform target's generated Terraform module and Ansible playbook.

The module is the contract between bayat-deploy and the infrastructure: two instance groups, blue
and green, behind one load balancer whose listener forwards to both with weights. bayat-deploy owns
only the `blue` and `green` variables (release, instance count, weight, track), which it writes to a
generated tfvars file on every step; everything else (network, machine image, certificate) is the
user's, in their own variable files. Users who keep their own module declare the same two
variables and the outputs `bayat_deployment`, `target_group_arns`, `test_urls` and `url`.

Files: versions.tf, variables.tf, releases.tf and outputs.tf need no provider (built-in
`terraform_data` with `create_before_destroy`), so `terraform validate` and even `apply` run offline;
aws.tf holds the AWS resources and needs the hashicorp/aws provider.
"""

from __future__ import annotations

from pathlib import Path

from bayat_deploy.fsutil import write_atomic

MODULE_FILES = ("versions.tf", "variables.tf", "releases.tf", "outputs.tf", "aws.tf")
PROVIDER_FREE = ("versions.tf", "variables.tf", "releases.tf", "outputs.tf")
APP_PORT = 8080


def _context(session, environment: str) -> dict:
    env = session.policy.environment(environment)
    health = env.verify.health_path
    return {"project": session.policy.project, "environment": environment, "app_port": APP_PORT,
            "health_path": health}


def render_module(session, environment: str, *, aws: bool = True) -> dict[str, str]:
    """File name -> text. `aws=False` leaves out the AWS resources (the provider-free part)."""
    from bayat_deploy.deploy.targets.templates import render

    context = {**_context(session, environment), "aws": aws}
    names = MODULE_FILES if aws else PROVIDER_FREE
    return {name: render(f"terraform/{name}.j2", **context) for name in names}


def render_playbook(session, environment: str) -> str:
    from bayat_deploy.deploy.targets.templates import render

    return render("terraform/playbook.yml.j2", **_context(session, environment))


def write_module(session, environment: str, directory: Path, *, aws: bool = True) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_module(session, environment, aws=aws).items():
        write_atomic(directory / name, text)
        written.append(directory / name)
    return written
