"""The scan stage's parts: trivy (vulnerabilities, secrets, misconfigurations, licences), SAST, the
ignore file, the severity gate, SARIF and GitLab reports, and infrastructure validation.

`runner.run_scan` puts them together; `bayat_deploy.stages.scan` is only the command line.
"""
