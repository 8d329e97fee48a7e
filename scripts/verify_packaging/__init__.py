"""Offline checks of the project's packaging: Helm chart, deploy/ manifests, Argo CD health check.

Run through scripts/verify-packaging.sh, which prepares the tools (a venv with helm-python-sdk,
kubernetes-validate and friends; lua5.1) and then runs `python -m verify_packaging`.
"""
