"""Gates and watch: required checks, maintenance windows, canary analysis, monitoring and notifications."""
